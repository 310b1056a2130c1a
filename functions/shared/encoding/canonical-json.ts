import { createHash } from 'node:crypto';
import { maxJsonDepth } from './json-limits.ts';

/** Raised when a value nests deeper than canonical JSON walks (inputs are bounded before they get here). */
export class JsonTooDeepError extends Error {
  constructor(limit: number) {
    super(`The value nests deeper than ${limit} levels`);
    this.name = 'JsonTooDeepError';
  }
}

/** How deep canonical JSON walks: request input is bounded to `maxJsonDepth`, stored values add a little. */
const canonicalDepthLimit = maxJsonDepth * 2;

function write(value: unknown, depth: number): string {
  if (depth > canonicalDepthLimit) throw new JsonTooDeepError(canonicalDepthLimit);
  if (Array.isArray(value)) return `[${value.map((member) => write(member, depth + 1)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, member]) => member !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, member]) => `${JSON.stringify(key)}:${write(member, depth + 1)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * JSON with object keys sorted at every depth and `undefined` members left out, so two values that
 * mean the same serialize (and hash) the same whatever order their keys were written in. Refuses
 * values nested deeper than twice the request depth limit rather than overflowing the stack.
 */
export function canonicalJson(value: unknown): string {
  return write(value, 0);
}

/** Hex SHA-256 of the canonical JSON of `value`: a fingerprint for idempotency and dedupe. */
export function fingerprint(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}
