import type * as Re2 from 're2js';

/** A compiled deny-rule content pattern. */
export type DenyPattern = { test(text: string): boolean };

/**
 * RE2 (≈150 KiB minified) loads on the first policy that holds a content pattern, not at init: most
 * tenants' policies hold none, so most Model Policy instances never load it.
 */
let engine: typeof Re2 | undefined;
let loading: Promise<typeof Re2> | undefined;

/** Raised when a content pattern is compiled or validated before RE2 was loaded: a wiring defect. */
export class DenyPatternEngineNotLoadedError extends Error {
  constructor() {
    super('RE2 is not loaded: await prepareDenyPatterns(policy) before parsing or evaluating this policy');
    this.name = 'DenyPatternEngineNotLoadedError';
  }
}

/** Loads RE2 once; a failed import is tried again on the next call instead of being remembered. */
export async function loadDenyPatternEngine(): Promise<void> {
  loading ??= import('re2js').catch((error: unknown) => {
    loading = undefined;
    throw error;
  });
  engine = await loading;
}

function loadedEngine(): typeof Re2 {
  if (engine === undefined) throw new DenyPatternEngineNotLoadedError();
  return engine;
}

/**
 * Whether a policy (as received: not yet validated) may hold a content pattern, i.e. whether
 * validating or evaluating it needs RE2. Errs towards yes: any `deny_rules` entry with a non-empty
 * `content` array. Reads two fixed levels, never recursively.
 */
export function holdsDenyPatterns(policy: unknown): boolean {
  if (typeof policy !== 'object' || policy === null) return false;
  const rules: unknown = (policy as Record<string, unknown>)['deny_rules'];
  if (!Array.isArray(rules)) return false;
  return rules.some((rule: unknown) => {
    if (typeof rule !== 'object' || rule === null) return false;
    const content: unknown = (rule as Record<string, unknown>)['content'];
    return Array.isArray(content) && content.length > 0;
  });
}

/** Loads RE2 when `policy` may hold a content pattern (see {@link holdsDenyPatterns}). */
export async function prepareDenyPatterns(policy: unknown): Promise<void> {
  if (holdsDenyPatterns(policy)) await loadDenyPatternEngine();
}

/**
 * Compiles an operator's content pattern with RE2 semantics, whose matching time is linear in the
 * text's length: a pattern such as `^(a+)+$` cannot stall the node on a crafted message, as it can
 * with a backtracking engine. Throws `RE2JSSyntaxException` for what RE2 refuses (backreferences,
 * lookaround), and {@link DenyPatternEngineNotLoadedError} before {@link prepareDenyPatterns}.
 */
export function compileDenyPattern(source: string): DenyPattern {
  const { RE2JS } = loadedEngine();
  const pattern = RE2JS.compile(source, RE2JS.CASE_INSENSITIVE);
  return { test: (text) => pattern.matcher(text).find() };
}

/** Whether RE2 accepts `source` as a pattern; throws {@link DenyPatternEngineNotLoadedError} before it is loaded. */
export function isValidDenyPattern(source: string): boolean {
  const { RE2JSSyntaxException } = loadedEngine();
  try {
    compileDenyPattern(source);
    return true;
  } catch (error) {
    if (error instanceof RE2JSSyntaxException) return false;
    throw error;
  }
}
