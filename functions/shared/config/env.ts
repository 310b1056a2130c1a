import { ConfigurationError } from '../errors/agentos-error.ts';

/** Source of settings; `process.env` in Lambda and in the local node. */
export type EnvSource = Record<string, string | undefined>;

/** Returns a required variable, throwing when it is missing or empty. */
export function requiredEnv(name: string, env: EnvSource = process.env): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') {
    throw new ConfigurationError(`Missing required environment variable ${name}`);
  }
  return value;
}

/** Returns an optional variable, or the fallback when it is missing or empty. */
export function optionalEnv(name: string, fallback: string, env: EnvSource = process.env): string {
  const value = env[name];
  return value === undefined || value.trim() === '' ? fallback : value;
}

/** Returns an optional variable or `undefined`. */
export function maybeEnv(name: string, env: EnvSource = process.env): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value;
}

/** Returns a non-negative integer variable, throwing when it is not one. */
export function intEnv(name: string, fallback: number, env: EnvSource = process.env): number {
  const raw = maybeEnv(name, env);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new ConfigurationError(`Environment variable ${name} must be a non-negative integer, got "${raw}"`);
  }
  return value;
}

/** Parses a JSON variable, throwing a configuration error that names the variable on bad JSON. */
export function jsonEnv(name: string, env: EnvSource = process.env): unknown {
  const raw = requiredEnv(name, env);
  try {
    return JSON.parse(raw) as unknown;
  } catch (cause) {
    throw new ConfigurationError(`Environment variable ${name} is not valid JSON`, { cause });
  }
}
