import { Readable } from 'node:stream';
import middy from '@middy/core';
import { executionModeStreamifyResponse } from '@middy/core/StreamifyResponse';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { bearerToken } from '../auth/jwt-verifier.ts';
import type { JwtVerifier } from '../auth/jwt-verifier.ts';
import type { AuthContext } from '../auth/auth-context.ts';
import { ForbiddenError } from '../errors/agentos-error.ts';
import { toErrorEnvelope } from '../errors/error-envelope.ts';
import type { Telemetry } from '../observability/telemetry.ts';
import type { ApiRequest, ApiResponse, Route } from './api-types.ts';
import { correlationIdFor } from './correlation-id.ts';
import { createRouter } from './router.ts';

/** What an API Lambda is made of. */
export type ApiServiceOptions = {
  routes: Route[];
  verifier: JwtVerifier;
  telemetry: Telemetry;
};

const anonymous: AuthContext = {
  tenant_id: 'anonymous',
  principal: { id: 'anonymous', type: 'user' },
  scopes: [],
  policy_context: {},
};

function lowerCaseHeaders(event: APIGatewayProxyEvent): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined) headers[name.toLowerCase()] = value;
  }
  return headers;
}

function decodeBody(event: APIGatewayProxyEvent): string | undefined {
  if (event.body === null || event.body === undefined) return undefined;
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

function queryOf(event: APIGatewayProxyEvent): Record<string, string> {
  const query: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
    if (value !== undefined) query[name] = value;
  }
  return query;
}

/**
 * Routes an API Gateway proxy event: correlation id → route → authentication and scope → handler,
 * and maps every failure to the error envelope.
 */
function createDispatcher(options: ApiServiceOptions) {
  const router = createRouter(options.routes);
  const { logger, metrics } = options.telemetry;
  return async (
    event: APIGatewayProxyEvent,
    signal: AbortSignal,
  ): Promise<ApiResponse & { correlationId: string }> => {
    const headers = lowerCaseHeaders(event);
    const correlationId = correlationIdFor(headers, event.requestContext?.requestId);
    logger.appendKeys({ correlation_id: correlationId });
    metrics.addMetric('Requests', MetricUnit.Count, 1);
    try {
      const { route, params } = router.match(event.httpMethod, event.path);
      let auth = anonymous;
      if (route.scope !== null) {
        auth = await options.verifier.verify(bearerToken(headers['authorization']));
        logger.appendKeys({ tenant_id: auth.tenant_id });
        if (!auth.scopes.includes(route.scope)) {
          throw new ForbiddenError(`This operation requires the "${route.scope}" scope`);
        }
      }
      const request: ApiRequest = {
        method: event.httpMethod,
        path: event.path,
        params,
        query: queryOf(event),
        headers,
        body: decodeBody(event),
        correlationId,
        auth,
        signal,
      };
      return { ...(await route.handle(request)), correlationId };
    } catch (error) {
      const { status, envelope } = toErrorEnvelope(error, correlationId);
      if (status >= 500) {
        logger.error('request failed', { error_code: envelope.error.code, error });
        metrics.addMetric('ServerErrors', MetricUnit.Count, 1);
      } else {
        logger.info('request rejected', { error_code: envelope.error.code, status });
      }
      return { status, json: envelope, correlationId };
    }
  };
}

function baseHeaders(
  correlationId: string,
  extra: Record<string, string> | undefined,
): Record<string, string> {
  return { 'x-correlation-id': correlationId, ...extra };
}

function jsonBody(value: unknown): string {
  return JSON.stringify(value);
}

function withObservability<T extends middy.MiddyfiedHandler<never, never, Error, Context>>(
  handler: T,
  telemetry: Telemetry,
): T {
  return handler
    .use(injectLambdaContext(telemetry.logger, { resetKeys: true }))
    .use(captureLambdaHandler(telemetry.tracer, { captureResponse: false }))
    .use(logMetrics(telemetry.metrics)) as T;
}

/** A buffered API Lambda (`AWS_PROXY`, buffered transfer mode). */
export function createBufferedApiHandler(options: ApiServiceOptions) {
  const dispatch = createDispatcher(options);
  const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context>().handler(
    async (event) => {
      const response = await dispatch(event, AbortSignal.timeout(15 * 60 * 1000));
      if ('stream' in response) throw new Error('A buffered handler cannot return a stream');
      return {
        statusCode: response.status,
        headers: baseHeaders(response.correlationId, {
          'content-type': 'application/json',
          ...response.headers,
        }),
        body: jsonBody(response.json),
      };
    },
  );
  return withObservability(handler as never, options.telemetry) as unknown as (
    event: APIGatewayProxyEvent,
    context: Context,
  ) => Promise<APIGatewayProxyResult>;
}

/**
 * A response-streaming API Lambda (`AWS_PROXY`, STREAM transfer mode). JSON responses are written
 * whole; stream responses are piped, and the handler's abort signal fires when the client goes away.
 */
export function createStreamingApiHandler(options: ApiServiceOptions) {
  const dispatch = createDispatcher(options);
  const handler = middy<APIGatewayProxyEvent, unknown, Error, Context>({
    executionMode: executionModeStreamifyResponse,
  }).handler(async (event) => {
    const controller = new AbortController();
    const response = await dispatch(event, controller.signal);
    if ('stream' in response) {
      response.stream.once('close', () => controller.abort());
      return {
        statusCode: response.status,
        headers: baseHeaders(response.correlationId, response.headers),
        body: response.stream,
      };
    }
    return {
      statusCode: response.status,
      headers: baseHeaders(response.correlationId, {
        'content-type': 'application/json',
        ...response.headers,
      }),
      body: Readable.from([jsonBody(response.json)]),
    };
  });
  return withObservability(handler as never, options.telemetry) as unknown;
}
