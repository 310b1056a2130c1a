import { fingerprint } from '../../shared/encoding/canonical-json.ts';

/**
 * The fingerprint of a request: a hash of its endpoint, model and body with keys in a canonical
 * order, so a retry that serializes the same request differently still matches.
 */
export function requestFingerprint(endpoint: string, modelRef: string, body: unknown): string {
  return fingerprint({ endpoint, model_ref: modelRef, body });
}
