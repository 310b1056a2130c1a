import {
  BudgetExceededError,
  ConflictError,
  DependencyUnavailableError,
  ForbiddenError,
  IdempotencyKeyReusedError,
  InternalError,
  InvalidRequestError,
  NotFoundError,
  RateLimitedError,
  RequestInProgressError,
  UnauthorizedError,
} from './agentos-error.ts';
import type { ErrorCode, AgentOsError } from './agentos-error.ts';
import { ErrorEnvelopeSchema } from './error-envelope.ts';

const constructors: Record<ErrorCode, (message: string, details: Record<string, unknown>) => AgentOsError> = {
  invalid_request: (m, d) => new InvalidRequestError(m, [], { details: d }),
  unauthorized: (m, d) => new UnauthorizedError(m, { details: d }),
  forbidden: (m, d) => new ForbiddenError(m, { details: d }),
  not_found: (m, d) => new NotFoundError(m, { details: d }),
  conflict: (m, d) => new ConflictError(m, { details: d }),
  idempotency_key_reused: (m, d) => new IdempotencyKeyReusedError(m, { details: d }),
  request_in_progress: (m, d) => new RequestInProgressError(m, { details: d }),
  rate_limited: (m, d) => new RateLimitedError(m, { details: d }),
  budget_exceeded: (m, d) => new BudgetExceededError(m, { details: d }),
  dependency_unavailable: (m, d) => new DependencyUnavailableError(m, { details: d }),
  internal: (m, d) => new InternalError(m, { details: d }),
};

/**
 * Rebuilds the typed error an AgentOS service answered with, from its status and body. A body that is
 * not an envelope becomes `dependency_unavailable` for 5xx and `internal` otherwise.
 */
export function errorFromResponse(status: number, body: unknown, service: string): AgentOsError {
  const parsed = ErrorEnvelopeSchema.safeParse(body);
  if (!parsed.success) {
    return status >= 500
      ? new DependencyUnavailableError(`${service} answered ${status}`)
      : new InternalError(`${service} answered ${status} without an error envelope`);
  }
  const { code, message, details } = parsed.data.error;
  const error = constructors[code](message, details);
  // A peer's internal failure is, from here, an unavailable dependency.
  return code === 'internal' ? new DependencyUnavailableError(`${service} failed: ${message}`) : error;
}
