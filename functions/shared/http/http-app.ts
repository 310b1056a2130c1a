import { Readable } from 'node:stream';
import type { z } from 'zod';
import { scopes } from '../auth/auth-context.ts';
import type { AuthContext } from '../auth/auth-context.ts';
import { bearerToken } from '../auth/jwt-verifier.ts';
import type { JwtVerifier } from '../auth/jwt-verifier.ts';
import {
  AgentOsError,
  ForbiddenError,
  InvalidRequestError,
  MethodNotAllowedError,
  NotFoundError,
  RateLimitedError,
  UnauthorizedError,
} from '../errors/agentos-error.ts';
import type { AdmissionPort, VerifiedToken } from '../tenancy/admission-port.ts';
import type { Tenant } from '../tenancy/tenant-schemas.ts';
import { toErrorEnvelope } from '../errors/error-envelope.ts';
import type { Telemetry } from '../observability/telemetry.ts';
import type { BoundRoute, RouteInput, RouteResult } from './bound-route.ts';
import { correlationIdFor } from './correlation-id.ts';
import { continueTrace, runInTrace, traceparentHeader } from '../observability/trace-context.ts';
import { exportSpan } from '../observability/otlp-tracing.ts';
import { declareOperations } from '../observability/metric-labels.ts';
import { metricDefinitions } from '../observability/metric-definitions.ts';
import { healthRoute } from './health-route.ts';
import { addCorsHeaders, preflightHeaders } from './cors.ts';
import type { CorsPolicy } from './cors.ts';
import { decodeJsonBody, validate } from './json-body.ts';
import { createPathMatcher } from './path-matcher.ts';
import type { RouteSpec } from './route-spec.ts';
import { observeTenantLogEvent } from '../observability/local-tenant-top.ts';

/** What a service's HTTP core is made of. */
export type HttpAppOptions = {
  /** The service name, used as the bearer realm. */
  service: string;
  routes: BoundRoute[];
  verifier: JwtVerifier;
  /** Admits each verified token's tenant and principal (unknown, disabled, revoked: refused). */
  admission: AdmissionPort;
  /**
   * The platform's own tenant: the `operator` scope grants something only on its tokens, so a route
   * declared with that scope refuses every other tenant's token (403) before reading its input.
   */
  operatorTenantId: string;
  telemetry: Telemetry;
  /** The largest JSON body a route accepts unless its declaration says otherwise. */
  maxBodyBytes: number;
  /** Which web origins browsers may call this API from; absent, CORS is off. */
  cors?: CorsPolicy;
  /**
   * Verifies the peer tokens of routes declared `authentication: 'peer'` (HLD §7.1); absent, such
   * routes refuse every caller (401).
   */
  peerVerifier?: { verifyToken(token: string): Promise<VerifiedToken> };
};

/** Platform facts an adapter knows about a request. */
export type RequestContext = {
  /** The gateway's request id (API Gateway's `requestContext.requestId`), a correlation id fallback. */
  requestId?: string;
};

/**
 * A service's HTTP core: a plain function of a web `Request` to a `Response`, the shape of Hono's
 * `app.fetch`. Adapters serve it from API Gateway proxy events (Lambda, buffered or streamed) and
 * from a Node HTTP server.
 */
export type HttpApp = { fetch(request: Request, context?: RequestContext): Promise<Response> };

const anonymous: AuthContext = {
  tenant_id: 'anonymous',
  principal: { id: 'anonymous', type: 'user' },
  scopes: [],
  policy_context: {},
};

function headerRecord(headers: Headers): Record<string, string> {
  const record: Record<string, string> = {};
  headers.forEach((value, name) => {
    record[name] = value;
  });
  return record;
}

function queryRecord(url: URL): Record<string, string> {
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = value;
  return query;
}

function validateParams(spec: RouteSpec, params: Record<string, string>): unknown {
  const schema = spec.request?.params;
  if (schema === undefined) return params;
  if (spec.request?.invalidParams === 'not_found') {
    const result = schema.safeParse(params);
    // A malformed id cannot name anything that exists: answer as for any unknown one.
    if (!result.success) {
      const name = String(result.error.issues[0]?.path[0] ?? '');
      const value = params[name];
      throw new NotFoundError(
        value === undefined ? 'Nothing matches this path' : `${name} ${value} was not found`,
      );
    }
    return result.data;
  }
  return validate(schema, params, 'path');
}

function validateHeaders(spec: RouteSpec, headers: Record<string, string>): void {
  for (const header of spec.request?.headers ?? []) {
    const raw = headers[header.name.toLowerCase()];
    const value = raw === '' && header.emptyMeansAbsent === true ? undefined : raw;
    if (value === undefined) {
      if (header.required) {
        throw new InvalidRequestError(`Missing ${header.name} header`, [
          { field: header.name, message: 'required' },
        ]);
      }
      continue;
    }
    const result = (header.schema as z.ZodType | undefined)?.safeParse(value);
    if (result !== undefined && !result.success) {
      throw new InvalidRequestError(`Invalid ${header.name} header`, [
        { field: header.name, message: result.error.issues[0]?.message ?? 'invalid' },
      ]);
    }
  }
}

function withBase(correlationId: string, headers: Record<string, string> | undefined): Headers {
  return new Headers({ 'x-correlation-id': correlationId, ...headers });
}

function toResponse(result: RouteResult, correlationId: string): Response {
  if ('empty' in result) {
    return new Response(null, { status: result.status, headers: withBase(correlationId, result.headers) });
  }
  if ('stream' in result) {
    return new Response(Readable.toWeb(result.stream) as ReadableStream<Uint8Array>, {
      status: result.status,
      headers: withBase(correlationId, result.headers),
    });
  }
  return new Response(JSON.stringify(result.json), {
    status: result.status,
    headers: withBase(correlationId, { 'content-type': 'application/json', ...result.headers }),
  });
}

/**
 * Builds a service's HTTP core from its bound routes. Per request: correlation id → route (400 on
 * malformed percent-encoding, 404, 405 with `Allow`) → bearer authentication and scope (401 with
 * `WWW-Authenticate`, 403) → params, query, headers and JSON body parsed against the declaration →
 * handler; every failure becomes the error envelope with a stable code. With a CORS policy, a
 * preflight of any route is answered here, and answers to allowed origins carry the CORS headers.
 */
export function createHttpApp(options: HttpAppOptions): HttpApp {
  const match = createPathMatcher(
    options.routes.map((bound) => ({ method: bound.spec.method, path: bound.spec.path, bound })),
  );
  const { logger, metrics } = options.telemetry;
  // The operation ids are the only values the request metrics' `operation` label takes (HLD §9.2).
  declareOperations(options.routes.map((bound) => bound.spec.operationId));

  /** The bearer token, or where the route allows it and no header came, its query token. */
  function verifyCaller(
    spec: RouteSpec,
    url: URL,
    params: Record<string, string>,
    headers: Record<string, string>,
  ) {
    if (spec.authentication === 'peer') {
      if (options.peerVerifier === undefined) throw new UnauthorizedError('This node accepts no peer tokens');
      return options.peerVerifier.verifyToken(bearerToken(headers['authorization']));
    }
    const queryToken = spec.queryToken === undefined ? null : url.searchParams.get(spec.queryToken.name);
    if (headers['authorization'] === undefined && queryToken !== null && spec.queryToken !== undefined) {
      return options.verifier.verifyToken(queryToken, { resource: spec.queryToken.resource(params) });
    }
    return options.verifier.verifyToken(bearerToken(headers['authorization']));
  }

  /**
   * The tenant each request was authenticated as, keyed by its header record (one per request): the
   * logger's tenant key is a temporary key, which its persistent attributes do not show.
   */
  const admittedTenants = new WeakMap<Record<string, string>, string>();

  async function authenticate(
    spec: RouteSpec,
    scope: string,
    url: URL,
    params: Record<string, string>,
    headers: Record<string, string>,
  ): Promise<{ auth: AuthContext; tenant: Tenant }> {
    const token = await verifyCaller(spec, url, params, headers);
    const { auth } = token;
    logger.appendKeys({ tenant_id: auth.tenant_id });
    admittedTenants.set(headers, auth.tenant_id);
    // On AWS the X-Ray segment is searchable by tenant (HLD §9.1); a no-op with tracing off.
    options.telemetry.tracer.putAnnotation('tenant_id', auth.tenant_id);
    // The tenant first: an unknown or disabled tenant's token is refused whatever it may hold.
    const tenant = await options.admission.admit(token);
    if (!auth.scopes.includes(scope))
      throw new ForbiddenError(`This operation requires the "${scope}" scope`);
    if (scope === scopes.operator && auth.tenant_id !== options.operatorTenantId)
      throw new ForbiddenError('Only operators of the platform tenant may administer tenants');
    return { auth, tenant };
  }

  async function inputFor(
    route: BoundRoute,
    request: Request,
    url: URL,
    params: Record<string, string>,
    headers: Record<string, string>,
    correlationId: string,
  ): Promise<RouteInput> {
    const { spec } = route;
    const { auth, tenant } =
      spec.scope === null
        ? { auth: anonymous, tenant: undefined }
        : await authenticate(spec, spec.scope, url, params, headers);
    const parsedParams = validateParams(spec, params);
    const runId = (parsedParams as Record<string, unknown> | undefined)?.['run_id'];
    if (typeof runId === 'string') {
      // A run's requests are found by its id in the logs and, on AWS, in X-Ray (HLD §9.1).
      logger.appendKeys({ run_id: runId });
      options.telemetry.tracer.putAnnotation('run_id', runId);
    }
    const query = spec.request?.query ? validate(spec.request.query, queryRecord(url), 'query') : {};
    validateHeaders(spec, headers);
    let body: unknown;
    if (spec.request?.body !== undefined) {
      const raw = request.body === null ? undefined : new Uint8Array(await request.arrayBuffer());
      const value = decodeJsonBody(raw, {
        maxBytes: spec.request.maxBodyBytes ?? options.maxBodyBytes,
        contentType: headers['content-type'],
      });
      await spec.request.prepareBody?.(value);
      body = validate(spec.request.body, value, 'request body');
    }
    return {
      params: parsedParams,
      query,
      body,
      headers,
      auth,
      tenant,
      correlationId,
      signal: request.signal,
      url,
    } as RouteInput;
  }

  function failure(
    error: unknown,
    correlationId: string,
    headers: Record<string, string>,
    route?: BoundRoute,
  ) {
    const own = route?.spec.errorAnswer?.(error);
    if (own !== undefined) {
      logger.info('request rejected', { status: own.status });
      return toResponse(own, correlationId);
    }
    const { status, envelope } = toErrorEnvelope(error, correlationId);
    if (status >= 500) {
      logger.error('request failed', { error_code: envelope.error.code, error });
    } else {
      logger.info('request rejected', { error_code: envelope.error.code, status });
    }
    const extra: Record<string, string> = {
      ...route?.spec.errorHeaders?.({ code: envelope.error.code, requestHeaders: headers }),
    };
    if (error instanceof MethodNotAllowedError) extra['allow'] = error.allowed.join(', ');
    if (error instanceof RateLimitedError) Object.assign(extra, error.headers);
    const retryAfter = error instanceof AgentOsError ? error.details['retry_after_seconds'] : undefined;
    if (typeof retryAfter === 'number' && Number.isFinite(retryAfter) && retryAfter > 0) {
      extra['retry-after'] = String(Math.ceil(retryAfter));
    }
    if (status === 401) {
      // RFC 6750 §3: say which scheme, and whether a presented token was refused.
      extra['www-authenticate'] =
        headers['authorization'] === undefined
          ? `Bearer realm="${options.service}"`
          : `Bearer realm="${options.service}", error="invalid_token"`;
    }
    return toResponse({ status, headers: extra, json: envelope }, correlationId);
  }

  /**
   * A CORS preflight (an OPTIONS request with `Access-Control-Request-Method`) for any route:
   * 204 with the path's methods for an allowed origin, 403 for any other, 404 for no such path.
   */
  function preflight(cors: CorsPolicy, url: URL, headers: Record<string, string>, correlationId: string) {
    const found = match('OPTIONS', url.pathname);
    if (found.kind !== 'method_not_allowed') throw new NotFoundError(`No route for OPTIONS ${url.pathname}`);
    const origin = headers['origin'];
    if (origin === undefined || !cors.allowedOrigins.includes(origin))
      throw new ForbiddenError('This origin may not call this API from a browser');
    return toResponse(
      { status: 204, headers: preflightHeaders(cors, origin, found.allowed), empty: true },
      correlationId,
    );
  }

  async function serve(
    request: Request,
    headers: Record<string, string>,
    correlationId: string,
    matched: { route?: BoundRoute },
  ): Promise<Response> {
    let route: BoundRoute | undefined;
    try {
      const url = new URL(request.url);
      if (
        options.cors !== undefined &&
        request.method === 'OPTIONS' &&
        headers['access-control-request-method'] !== undefined
      ) {
        return preflight(options.cors, url, headers, correlationId);
      }
      const found = match(request.method, url.pathname);
      if (found.kind === 'not_found')
        throw new NotFoundError(`No route for ${request.method} ${url.pathname}`);
      if (found.kind === 'method_not_allowed') throw new MethodNotAllowedError(request.method, found.allowed);
      route = found.route.bound;
      matched.route = route;
      const input = await inputFor(route, request, url, found.params, headers, correlationId);
      return toResponse(await route.handle(input), correlationId);
    } catch (error) {
      return failure(error, correlationId, headers, route);
    }
  }

  return {
    async fetch(request, context = {}) {
      const headers = headerRecord(request.headers);
      const correlationId = correlationIdFor(headers, context.requestId);
      // A caller's W3C trace goes on through this request's calls; one is started when absent
      // (HLD §9.1), and its id is the `trace_id` of every log line of the request.
      const trace = continueTrace(headers[traceparentHeader]);
      logger.appendKeys({ correlation_id: correlationId, trace_id: trace.traceId });
      options.telemetry.tracer.putAnnotation('trace_id', trace.traceId);
      const startedMs = Date.now();
      const matched: { route?: BoundRoute } = {};
      const response = await runInTrace(trace, () => serve(request, headers, correlationId, matched));
      // Per declared operation, never per raw path: the path holds tenants' ids (HLD §9.2).
      const operation = matched.route?.spec.operationId ?? 'unmatched';
      metrics.recordRequest({
        operation,
        latencyMs: Date.now() - startedMs,
        serverError: response.status >= 500,
      });
      if (operation === healthRoute.operationId && response.status === 200)
        metrics.addMetric('HealthyChecks', metricDefinitions.HealthyChecks.unit, 1);
      // One access line per request (its tenant is among the keys once admitted): CloudWatch
      // Contributor Insights ranks tenants by requests and errors from it (HLD §9.2).
      const durationMs = Date.now() - startedMs;
      logger.info('request served', {
        method: request.method,
        operation,
        status: response.status,
        duration_ms: durationMs,
      });
      const tenantId = admittedTenants.get(headers);
      // A local node ranks tenants from the same event (HLD §9.2); a no-op on AWS.
      observeTenantLogEvent('request served', {
        tenant_id: tenantId,
        status: response.status,
        duration_ms: durationMs,
      });
      exportSpan(
        `${request.method} request`,
        trace,
        {
          'http.request.method': request.method,
          'http.response.status_code': response.status,
          ...(typeof tenantId === 'string' ? { 'agentos.tenant_id': tenantId } : {}),
        },
        startedMs,
      );
      // Every answer, errors included, so a page can read why it was refused.
      if (options.cors !== undefined) addCorsHeaders(response.headers, options.cors, headers['origin']);
      return response;
    },
  };
}
