import type { ModelCatalog } from '../schemas/model-catalog.ts';
import { nanoPerTokenFromUsdPerMtok } from './money.ts';

/** Per-token prices in nano-USD. */
export type TokenPrices = { inputNano: number; outputNano: number };

/** The price table in force at one instant. */
export type PriceTable = { version: string; pricesOf(modelRef: string): TokenPrices };

/**
 * The catalog's price table in force at `at`: the version with the latest `effective_from` not
 * after it (the earliest one before any is in force).
 */
export function priceTableAt(catalog: ModelCatalog, at: Date): PriceTable {
  const sorted = [...catalog.price_tables].sort(
    (a, b) => Date.parse(a.effective_from) - Date.parse(b.effective_from),
  );
  const table =
    sorted.filter((candidate) => Date.parse(candidate.effective_from) <= at.getTime()).at(-1) ?? sorted[0]!;
  return {
    version: table.version,
    pricesOf(modelRef) {
      const price = table.prices[modelRef];
      // The catalog schema guarantees every model a price in every table.
      if (price === undefined) throw new Error(`No price for ${modelRef} in price table ${table.version}`);
      return {
        inputNano: nanoPerTokenFromUsdPerMtok(price.input_usd_per_mtok),
        outputNano: nanoPerTokenFromUsdPerMtok(price.output_usd_per_mtok),
      };
    },
  };
}

/** The highest input and output prices among `modelRefs`: what a call may cost whichever answers. */
export function worstCasePrices(table: PriceTable, modelRefs: readonly string[]): TokenPrices {
  return modelRefs.reduce<TokenPrices>(
    (worst, ref) => {
      const prices = table.pricesOf(ref);
      return {
        inputNano: Math.max(worst.inputNano, prices.inputNano),
        outputNano: Math.max(worst.outputNano, prices.outputNano),
      };
    },
    { inputNano: 0, outputNano: 0 },
  );
}

/** The cost of a call in nano-USD. */
export function costNano(
  prices: TokenPrices,
  usage: { promptTokens: number; completionTokens: number },
): number {
  return usage.promptTokens * prices.inputNano + usage.completionTokens * prices.outputNano;
}
