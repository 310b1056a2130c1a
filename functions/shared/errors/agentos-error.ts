/**
 * Typed errors for every AgentOS module. Each subclass owns one stable API error code, so mapping an
 * error to the wire envelope is a property read, never a name match.
 */

/** Stable codes of the error envelope. Adding a code is additive; renaming one is a breaking change. */
export const errorCodes = [
  'invalid_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'idempotency_key_reused',
  'request_in_progress',
  'rate_limited',
  'budget_exceeded',
  'dependency_unavailable',
  'internal',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

/** Per-field detail of an invalid request. */
export type FieldIssue = { field: string; message: string };

/** Options shared by every AgentOS error. */
export type AgentOsErrorOptions = {
  /** What caused this error; never shown to API clients. */
  cause?: unknown;
  /** Safe, client-facing details (never secrets, never another tenant's data). */
  details?: Record<string, unknown>;
};

/** Base class of every error AgentOS raises on purpose. */
export class AgentOsError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, status: number, message: string, options: AgentOsErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.details = options.details ?? {};
  }
}

/** The request is malformed; `details.fields` names what is wrong. */
export class InvalidRequestError extends AgentOsError {
  constructor(message: string, fields: FieldIssue[] = [], options: AgentOsErrorOptions = {}) {
    super('invalid_request', 400, message, {
      ...options,
      details: { ...options.details, ...(fields.length > 0 ? { fields } : {}) },
    });
  }
}

/** The path exists but not with this method; `allowed` lists the methods it has (the `Allow` header). */
export class MethodNotAllowedError extends AgentOsError {
  readonly allowed: readonly string[];
  constructor(method: string, allowed: readonly string[], options: AgentOsErrorOptions = {}) {
    super('invalid_request', 405, `Method ${method} is not allowed here; allowed: ${allowed.join(', ')}`, {
      ...options,
      details: { ...options.details, allowed: [...allowed] },
    });
    this.allowed = allowed;
  }
}

/** The request body is not in a media type the operation accepts. */
export class UnsupportedMediaTypeError extends AgentOsError {
  constructor(message: string, options: AgentOsErrorOptions = {}) {
    super('invalid_request', 415, message, options);
  }
}

/** The request body is larger than the platform accepts at all. */
export class PayloadTooLargeError extends AgentOsError {
  constructor(message: string, options: AgentOsErrorOptions = {}) {
    super('invalid_request', 413, message, options);
  }
}

/** No valid credentials were presented. */
export class UnauthorizedError extends AgentOsError {
  constructor(message = 'A valid bearer token is required', options: AgentOsErrorOptions = {}) {
    super('unauthorized', 401, message, options);
  }
}

/** The caller is authenticated but lacks a scope or entitlement. */
export class ForbiddenError extends AgentOsError {
  constructor(message: string, options: AgentOsErrorOptions = {}) {
    super('forbidden', 403, message, options);
  }
}

/** The resource does not exist for this tenant (also used when it exists for another tenant). */
export class NotFoundError extends AgentOsError {
  constructor(message: string, options: AgentOsErrorOptions = {}) {
    super('not_found', 404, message, options);
  }
}

/** The resource is in a state that does not allow the operation. */
export class ConflictError extends AgentOsError {
  constructor(message: string, options: AgentOsErrorOptions = {}) {
    super('conflict', 409, message, options);
  }
}

/** An idempotency key (or request id) was reused with a different request body. */
export class IdempotencyKeyReusedError extends AgentOsError {
  constructor(message: string, options: AgentOsErrorOptions = {}) {
    super('idempotency_key_reused', 422, message, options);
  }
}

/** A request with the same id is still being processed. */
export class RequestInProgressError extends AgentOsError {
  constructor(message: string, options: AgentOsErrorOptions = {}) {
    super('request_in_progress', 409, message, options);
  }
}

/**
 * The caller exceeded a rate limit, or an upstream did. `details.limit` names the limit and
 * `details.retry_after_seconds` becomes `Retry-After`; `headers` (the `RateLimit-*` fields) are sent
 * with the answer but are not part of the envelope.
 */
export class RateLimitedError extends AgentOsError {
  readonly headers: Readonly<Record<string, string>>;
  constructor(message: string, options: AgentOsErrorOptions & { headers?: Record<string, string> } = {}) {
    super('rate_limited', 429, message, options);
    this.headers = options.headers ?? {};
  }
}

/** The tenant's (or principal's, or run's) budget cannot cover the request. */
export class BudgetExceededError extends AgentOsError {
  constructor(message: string, options: AgentOsErrorOptions = {}) {
    super('budget_exceeded', 429, message, options);
  }
}

/** A dependency (database, queue, model backend, peer service) could not be reached. */
export class DependencyUnavailableError extends AgentOsError {
  constructor(message: string, options: AgentOsErrorOptions = {}) {
    super('dependency_unavailable', 503, message, options);
  }
}

/** A failure that is AgentOS's own fault; the message shown to clients is always generic. */
export class InternalError extends AgentOsError {
  constructor(message = 'Internal error', options: AgentOsErrorOptions = {}) {
    super('internal', 500, message, options);
  }
}

/** Raised at start-up when a required setting is missing or malformed. */
export class ConfigurationError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'ConfigurationError';
  }
}
