import { RE2JS } from 're2js';

/** A compiled deny-rule content pattern. */
export type DenyPattern = { test(text: string): boolean };

/**
 * Compiles an operator's content pattern with RE2 semantics, whose matching time is linear in the
 * text's length: a pattern such as `^(a+)+$` cannot stall the node on a crafted message, as it can
 * with a backtracking engine. Throws `RE2JSSyntaxException` for what RE2 refuses (backreferences,
 * lookaround).
 */
export function compileDenyPattern(source: string): DenyPattern {
  const pattern = RE2JS.compile(source, RE2JS.CASE_INSENSITIVE);
  return { test: (text) => pattern.matcher(text).find() };
}
