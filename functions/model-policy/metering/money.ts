/**
 * Money is counted in whole nano-dollars (10⁻⁹ USD): prices with at most 3 decimals per million
 * tokens are whole nano-dollars per token, so costs and budget counters add up exactly.
 */

/** Nano-dollars in one US dollar. */
export const nanoPerUsd = 1_000_000_000;

/** USD → whole nano-USD (rounded: limits and prices have at most 9 decimals that matter). */
export function nanoFromUsd(usd: number): number {
  return Math.round(usd * nanoPerUsd);
}

/** Nano-USD → USD, with no float noise beyond the ninth decimal. */
export function usdFromNano(nano: number): number {
  return Number((nano / nanoPerUsd).toFixed(9));
}

/** USD per million tokens → nano-USD per token. */
export function nanoPerTokenFromUsdPerMtok(usdPerMtok: number): number {
  return Math.round(usdPerMtok * 1000);
}
