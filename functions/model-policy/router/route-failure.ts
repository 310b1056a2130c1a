import type { RouteHop } from '../../shared/contracts/model-invocation.ts';
import { DependencyUnavailableError, InvalidRequestError } from '../../shared/errors/agentos-error.ts';
import type { AgentOsError } from '../../shared/errors/agentos-error.ts';
import { rateLimited } from '../../shared/limits/rate-limit-headers.ts';
import { ProviderError } from '../ports/model-provider-port.ts';

/**
 * What a caller is told to wait when every backend throttled it: backends do not say when they
 * recover, and their throttling windows are about a second (HLD §10.2 one `rate_limited`).
 */
export const upstreamRetryAfterSeconds = 2;

/** No backend of the chain answered; `hops` says what each one did. */
export class RouteFailure extends Error {
  readonly hops: RouteHop[];
  readonly lastError: ProviderError | undefined;
  /** The caller went away (or its deadline passed) before any backend answered. */
  readonly aborted: boolean;

  constructor(hops: RouteHop[], lastError: ProviderError | undefined, aborted: boolean) {
    super(aborted ? 'The call was aborted' : 'No model backend could answer', { cause: lastError });
    this.name = 'RouteFailure';
    this.hops = hops;
    this.lastError = lastError;
    this.aborted = aborted;
  }

  /**
   * The API error the caller sees, with the hops in its details. Messages are generic: a backend's
   * own error text may name accounts or resources, so it goes to the logs only.
   */
  toApiError(modelRef: string): AgentOsError {
    const details = { route: { model_ref: modelRef, hops: this.hops } };
    const last = this.lastError;
    if (last !== undefined && !last.fallbackEligible) {
      return new InvalidRequestError(
        `The model backend rejected the request as invalid (HTTP ${last.status ?? 400})`,
        [],
        { details, cause: last },
      );
    }
    if (this.hops.length > 0 && this.hops.every((hop) => hop.reason === 'rate_limited')) {
      return rateLimited(
        'upstream_rate_limit',
        'Every model backend of this route is rate limited',
        upstreamRetryAfterSeconds,
        undefined,
        { details, cause: last },
      );
    }
    if (this.hops.length > 0 && this.hops.every((hop) => hop.reason === 'output_invalid')) {
      return new DependencyUnavailableError('No model backend answered in the requested response_format', {
        details: { ...details, reason: 'output_invalid' },
        cause: last,
      });
    }
    return new DependencyUnavailableError('No model backend could answer', { details, cause: last });
  }
}

/** Any failure of a backend call, as a ProviderError. */
export function asProviderError(error: unknown, hopSignal: AbortSignal): ProviderError {
  if (error instanceof ProviderError) return error;
  if (hopSignal.aborted) return new ProviderError('timeout', 'the backend call timed out', { cause: error });
  return new ProviderError('server_error', 'the backend adapter failed', { cause: error });
}
