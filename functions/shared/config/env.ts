/** Source of settings; `process.env` in Lambda and in the local node. */
export type EnvSource = Record<string, string | undefined>;

/**
 * Returns an optional variable, or the fallback when it is missing or empty. For tooling and for
 * names chosen by configuration (credential references); a function's own settings are declared in
 * its environment contract (`env-contract.ts`).
 */
export function optionalEnv(name: string, fallback: string, env: EnvSource = process.env): string {
  const value = env[name];
  return value === undefined || value.trim() === '' ? fallback : value;
}

/** Returns an optional variable or `undefined`; see {@link optionalEnv}. */
export function maybeEnv(name: string, env: EnvSource = process.env): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value;
}
