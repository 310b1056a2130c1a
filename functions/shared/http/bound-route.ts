import type { Readable } from 'node:stream';
import type { z } from 'zod';
import type { AuthContext } from '../auth/auth-context.ts';
import type { Tenant } from '../tenancy/tenant-schemas.ts';
import type { RouteSpec } from './route-spec.ts';

type Parsed<T> = T extends z.ZodType ? z.output<T> : Record<string, never>;
type RequestPart<S extends RouteSpec, K extends string> = S extends { request: infer R }
  ? R extends Record<K, infer P>
    ? Parsed<P>
    : K extends 'body'
      ? undefined
      : Record<string, never>
  : K extends 'body'
    ? undefined
    : Record<string, never>;

/** What a handler receives: the request's parts, parsed and validated against its declaration. */
export type RouteInput<S extends RouteSpec = RouteSpec> = {
  params: RequestPart<S, 'params'>;
  query: RequestPart<S, 'query'>;
  body: RequestPart<S, 'body'>;
  /** All request headers, lower-cased names; declared ones have passed their schemas. */
  headers: Record<string, string>;
  /** The caller; an anonymous context on unauthenticated routes. */
  auth: AuthContext;
  /** The caller's tenant as admitted at ingress (quotas, allow-list); undefined on unauthenticated routes. */
  tenant: Tenant | undefined;
  correlationId: string;
  /** Aborted when the client goes away (or the platform's deadline passes). */
  signal: AbortSignal;
  /** The request URL as the client sent it (path still percent-encoded). */
  url: URL;
};

/** A buffered JSON answer. */
export type JsonResult = { status: number; headers?: Record<string, string>; json: unknown };

/** A streamed answer (server-sent events); only streaming functions serve these. */
export type StreamResult = { status: number; headers: Record<string, string>; stream: Readable };

/** An answer without a body, such as 204 No Content. */
export type EmptyResult = { status: number; headers?: Record<string, string>; empty: true };

export type RouteResult = JsonResult | StreamResult | EmptyResult;

/** The handler of one declared route. */
export type RouteHandler<S extends RouteSpec> = (input: RouteInput<S>) => Promise<RouteResult>;

/** A declaration with the handler that serves it. */
export type BoundRoute = { spec: RouteSpec; handle: (input: RouteInput) => Promise<RouteResult> };

/** One handler per served route of `R`, keyed by operation id; designed-only routes take none. */
export type RouteHandlers<R extends readonly RouteSpec[]> = {
  [S in R[number] as S extends { implemented: false } ? never : S['operationId']]: RouteHandler<S>;
};

/**
 * Binds handlers to a service's route declarations. The handler map is typed from the declarations,
 * so a route without a handler, a handler without a route, or a handler reading a field its route
 * does not declare fails to compile.
 */
export function bindRoutes<const R extends readonly RouteSpec[]>(
  specs: R,
  handlers: RouteHandlers<R>,
): BoundRoute[] {
  const byId = handlers as unknown as Record<string, BoundRoute['handle'] | undefined>;
  return specs
    .filter((spec) => spec.implemented !== false)
    .map((spec) => {
      const handle = byId[spec.operationId];
      if (handle === undefined) throw new Error(`No handler for ${spec.operationId}`);
      return { spec, handle };
    });
}
