import { createHash } from 'node:crypto';

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

/**
 * The fingerprint of a request: a hash of its endpoint, model and body with keys in a canonical
 * order, so a retry that serializes the same request differently still matches.
 */
export function requestFingerprint(endpoint: string, modelRef: string, body: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(canonical({ endpoint, model_ref: modelRef, body })))
    .digest('hex');
}
