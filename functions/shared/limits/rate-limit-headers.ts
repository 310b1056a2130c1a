import { RateLimitedError } from '../errors/agentos-error.ts';
import type { AgentOsErrorOptions } from '../errors/agentos-error.ts';
import type { RateDecision } from './limiter-port.ts';

/**
 * The limits a `rate_limited` answer can name in `details.limit` (one vocabulary for the
 * Orchestrator and the Model Policy).
 */
export const rateLimitNames = [
  'tenant_run_rate',
  'tenant_model_request_rate',
  'tenant_queued_runs',
  'node_concurrent_runs',
  'tenant_sse_connections',
  'node_sse_connections',
  'upstream_rate_limit',
  'ledger_contention',
] as const;

export type RateLimitName = (typeof rateLimitNames)[number];

/** The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers) of a decision. */
export function rateLimitHeaders(decision: RateDecision): Record<string, string> {
  return {
    'ratelimit-limit': String(decision.limit),
    'ratelimit-remaining': String(Math.max(0, Math.floor(decision.remaining))),
    'ratelimit-reset': String(Math.max(0, Math.ceil(decision.resetSeconds))),
  };
}

/**
 * The one `rate_limited` error (429): the envelope names the limit hit, `Retry-After` says when to
 * come back, and the `RateLimit-*` fields of the decision are sent as headers. `options` adds
 * client-safe details (never overriding `limit` and `retry_after_seconds`) and the cause for the logs.
 */
export function rateLimited(
  limit: RateLimitName,
  message: string,
  retryAfterSeconds: number,
  decision?: RateDecision,
  options: AgentOsErrorOptions = {},
): RateLimitedError {
  return new RateLimitedError(message, {
    details: { ...options.details, limit, retry_after_seconds: Math.max(1, Math.ceil(retryAfterSeconds)) },
    ...(options.cause === undefined ? {} : { cause: options.cause }),
    ...(decision === undefined ? {} : { headers: rateLimitHeaders(decision) }),
  });
}
