import type { z } from 'zod';

/**
 * How a route of an AgentOS API is declared: once, as plain data plus zod schemas. The same
 * declaration drives the HTTP core (matching, authentication and scope, parsing and validation of
 * params, query, headers and body) and the generated OpenAPI document; a handler is bound to it by
 * its `operationId` (see bound-route.ts), so no second list of routes exists anywhere.
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Media types AgentOS APIs answer with. */
export type MediaType = 'application/json' | 'text/event-stream';

/** A request or response header. Headers are strings on the wire; `schema` narrows their format. */
export type HeaderSpec = {
  name: string;
  required: boolean;
  description: string;
  schema?: z.ZodType;
  /** An empty value is taken as no header at all (e.g. `Last-Event-ID:` from a fresh EventSource). */
  emptyMeansAbsent?: true;
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

/** What a route's error responses carry besides the envelope, computed per failure. */
export type ErrorHeaders = (failure: {
  code: string;
  /** The request's headers, lower-cased names. */
  requestHeaders: Record<string, string>;
}) => Record<string, string>;

/** What a route takes in, each part validated by the core before the handler runs. */
export type RequestSpec = {
  /** Schemas of the path template's parameters, keyed by name. */
  params?: z.ZodObject;
  /**
   * How a path parameter that fails its schema is answered: `invalid_request` (400, the default) or
   * `not_found` (404), for ids whose malformed form can name nothing and so reads as "no such thing".
   */
  invalidParams?: 'invalid_request' | 'not_found';
  query?: z.ZodObject;
  /** Documented headers; those with a schema are validated when present (or when required). */
  headers?: HeaderSpec[];
  /** A JSON body (`Content-Type: application/json`), required when declared. */
  body?: z.ZodType;
  /** The largest accepted body; the service's default applies when absent. */
  maxBodyBytes?: number;
  /**
   * Awaited with the body as received (JSON, not yet validated) just before `body` validates it:
   * loads what validating this body needs, for a module loaded on first use rather than at init.
   */
  prepareBody?: (body: unknown) => Promise<void>;
};

/** One operation of a service's API, declared once. */
export type RouteSpec = {
  operationId: string;
  method: HttpMethod;
  /** A route template such as `/v1/runs/{run_id}:cancel`; `{name+}` may span slashes. */
  path: string;
  /** The scope a caller's token must hold; `null` for unauthenticated operations such as health. */
  scope: string | null;
  summary: string;
  description?: string;
  tags?: string[];
  request?: RequestSpec;
  responses: Record<number, ResponseSpec>;
  /**
   * A short-lived token this route also accepts in a query parameter instead of `Authorization`, for
   * clients that cannot set headers (a browser's EventSource). It must have been minted for the
   * resource `resource(params)` names, so it opens nothing else.
   */
  queryToken?: { name: string; resource(params: Record<string, string>): string };
  /**
   * `peer`: the caller is a federation peer whose bearer token is a peer token (HLD §7.1), verified
   * by the service's peer verifier instead of its user and service token verifier; the tenant it
   * acts for is then admitted, and the scope checked, as for any caller.
   */
  authentication?: 'peer';
  /** Extra headers on every error answer of this route (e.g. OpenAI's `x-should-retry`). */
  errorHeaders?: ErrorHeaders;
  /**
   * Answers a refused request in the route's own protocol instead of the error envelope (a JSON-RPC
   * endpoint answers a malformed body with a JSON-RPC error); `undefined` keeps the envelope.
   */
  errorAnswer?: (error: unknown) => { status: number; json: unknown } | undefined;
  /** `false` documents an operation that is designed but not served yet (`x-implemented: false`). */
  implemented?: false;
};

/**
 * Declares a route. Returns the declaration unchanged but keeps its literal types (operation id,
 * schemas), which type the handler bound to it.
 */
export function defineRoute<const S extends RouteSpec>(spec: S): S {
  return spec;
}
