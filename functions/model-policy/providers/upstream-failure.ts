import type { ProviderFailureKind } from '../ports/model-provider-port.ts';

/**
 * The failure kind of an HTTP error status from a model backend: whether the router may try the next
 * backend depends on it, so a 4xx caused by the request never becomes a fallback.
 */
export function failureKindOfStatus(status: number): ProviderFailureKind {
  if (status === 429) return 'rate_limited';
  if (status === 401 || status === 403) return 'auth';
  // 408 means the backend gave up waiting, not that the request was wrong.
  if (status === 408) return 'timeout';
  // A missing model or path is the catalog's mistake, whatever the request said.
  if (status === 404) return 'model_unavailable';
  if (status >= 500) return 'server_error';
  return 'invalid_request';
}

/** Keeps an upstream error message short enough for logs and routes. */
export function upstreamMessage(message: string): string {
  const trimmed = message.trim();
  return trimmed.length > 300 ? `${trimmed.slice(0, 300)}…` : trimmed;
}
