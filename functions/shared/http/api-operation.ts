import type { z } from 'zod';

/**
 * How a service declares its public API for documentation: plain data plus zod schemas, no handler
 * code. The OpenAPI generator turns these into documents; tests hold them to the served routes.
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** Media types AgentOS APIs answer with. */
export type MediaType = 'application/json' | 'text/event-stream';

/** A request or response header. Headers are strings on the wire; `schema` narrows their format. */
export type HeaderSpec = {
  name: string;
  required: boolean;
  description: string;
  schema?: z.ZodType;
};

/**
 * How a `text/event-stream` response frames its events (WHATWG HTML §9.2). Each entry says what the
 * field carries; absent fields are not sent. The media type's schema describes one `data:` payload.
 */
export type SseFraming = {
  id?: string;
  event?: string;
  data: string;
  retry?: string;
  comments?: string;
  /** A final `data:` line that is not JSON, such as OpenAI's `[DONE]`. */
  terminator?: string;
  /** How a client resumes after a disconnect. */
  resume?: string;
};

/** One body of a response, under one media type. */
export type ResponseContentSpec = {
  schema: z.ZodType;
  /** Required for `text/event-stream`: the framing around each `data:` payload. */
  sse?: SseFraming;
};

/**
 * One response status. Error statuses (4xx/5xx) never declare content: they always carry the shared
 * error envelope, so the generator fills it in.
 */
export type ResponseSpec = {
  description: string;
  headers?: HeaderSpec[];
  content?: Partial<Record<MediaType, ResponseContentSpec>>;
};

/** One operation of a service's API. */
export type ApiOperation = {
  operationId: string;
  method: HttpMethod;
  /** A route template as the router reads it, e.g. `/v1/runs/{run_id}:cancel`. */
  path: string;
  /** The scope a caller's token must hold; `null` for unauthenticated operations such as health. */
  scope: string | null;
  summary: string;
  description?: string;
  tags?: string[];
  request?: {
    /** Schemas of the path template's parameters, keyed by name. */
    params?: z.ZodObject;
    query?: z.ZodObject;
    headers?: HeaderSpec[];
    body?: z.ZodType;
  };
  responses: Record<number, ResponseSpec>;
  /** `false` documents an operation that is designed but not served yet (`x-implemented: false`). */
  implemented?: false;
};
