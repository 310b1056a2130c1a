import { pipeline, Readable, Transform } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import middy from '@middy/core';
import { executionModeStreamifyResponse } from '@middy/core/StreamifyResponse';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { Telemetry } from '../observability/telemetry.ts';
import type { HttpApp } from './http-app.ts';

/**
 * Adapts an HTTP core to API Gateway REST proxy events (Lambda proxy integration, payload format
 * 1.0): the event becomes a web `Request`, the `Response` a proxy result (buffered transfer mode) or
 * a Lambda response stream (STREAM transfer mode, with the HTTP metadata prelude middy writes).
 */

function headersOf(event: APIGatewayProxyEvent): Headers {
  const headers = new Headers();
  const multi = event.multiValueHeaders ?? {};
  for (const [name, values] of Object.entries(multi)) {
    for (const value of values ?? []) headers.append(name, value);
  }
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined && !headers.has(name)) headers.set(name, value);
  }
  return headers;
}

function queryOf(event: APIGatewayProxyEvent): string {
  const search = new URLSearchParams();
  const multi = event.multiValueQueryStringParameters;
  if (multi !== null && multi !== undefined) {
    for (const [name, values] of Object.entries(multi)) {
      for (const value of values ?? []) search.append(name, value);
    }
  } else {
    for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
      if (value !== undefined) search.append(name, value);
    }
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

/** The web Request an API Gateway proxy event describes; `signal` aborts it (client gone, deadline). */
export function requestFromProxyEvent(event: APIGatewayProxyEvent, signal: AbortSignal): Request {
  const headers = headersOf(event);
  const host = headers.get('host') ?? 'localhost';
  const url = new URL(`https://${host}${event.path}${queryOf(event)}`);
  const hasBody =
    event.body !== null && event.body !== undefined && !['GET', 'HEAD'].includes(event.httpMethod);
  const body = hasBody ? Buffer.from(event.body!, event.isBase64Encoded ? 'base64' : 'utf8') : undefined;
  return new Request(url, {
    method: event.httpMethod,
    headers,
    ...(body === undefined ? {} : { body }),
    signal,
  });
}

function plainHeaders(headers: Headers): Record<string, string> {
  const record: Record<string, string> = {};
  headers.forEach((value, name) => {
    record[name] = value;
  });
  return record;
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

/** Milliseconds left before Lambda stops the invocation, less a margin to answer in. */
function deadlineSignal(context: Context | undefined): AbortSignal {
  const remaining = context?.getRemainingTimeInMillis?.() ?? 15 * 60 * 1000;
  return AbortSignal.timeout(Math.max(1, remaining - 500));
}

/** A buffered API Lambda (`AWS_PROXY`, buffered transfer mode). */
export function createBufferedLambdaHandler(app: HttpApp, telemetry: Telemetry) {
  const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context>().handler(
    async (event, context) => {
      const request = requestFromProxyEvent(event, deadlineSignal(context));
      const response = await app.fetch(request, { requestId: event.requestContext?.requestId });
      return {
        statusCode: response.status,
        headers: plainHeaders(response.headers),
        body: await response.text(),
      };
    },
  );
  return withObservability(handler as never, telemetry) as unknown as (
    event: APIGatewayProxyEvent,
    context: Context,
  ) => Promise<APIGatewayProxyResult>;
}

/**
 * Passes the response body through, then publishes the metrics recorded while it streamed (model
 * calls, tokens, cost). `logMetrics` flushes when the handler returns, before the body is written, so
 * without this those metrics would wait for the next invocation (HLD §9.1). They go out before the
 * body ends (`flush`), or when the client goes away and the body is destroyed. A transform rather
 * than a generator: destroying a generator waits for the source's next chunk, which on a quiet event
 * stream is the next keep-alive, and the request's signal (which frees the stream's slot) with it.
 */
function publishingMetricsAtEnd(source: Readable, telemetry: Telemetry): Readable {
  const publish = () => {
    if (telemetry.metrics.hasStoredMetrics()) telemetry.metrics.publishStoredMetrics();
  };
  const body = new Transform({
    transform(chunk, _encoding, callback) {
      callback(null, chunk);
    },
    flush(callback) {
      publish();
      callback();
    },
  });
  // Either end failing ends the other: a client that goes away destroys the body, and so the source.
  pipeline(source, body, (error) => {
    if (error !== undefined && error !== null && error.code !== 'ERR_STREAM_PREMATURE_CLOSE')
      telemetry.logger.warn('response body failed', { error: String(error) });
  });
  body.once('close', publish);
  return body;
}

/** What a streaming API Lambda runs besides answering. */
export type StreamingHandlerOptions = {
  /**
   * Work left once the response stream is closed (the client has its last byte), which the
   * invocation waits for before it ends, e.g. the Model Policy's settlements (HLD §5.3). Metrics it
   * records are published when it is done.
   */
  afterResponse?: () => Promise<void>;
};

/**
 * A response-streaming API Lambda (`AWS_PROXY`, STREAM transfer mode). The body is piped as the
 * core produces it; when the client goes away the response stream closes, the body stream is
 * destroyed (cancelling the core's stream) and the request's signal aborts.
 */
export function createStreamingLambdaHandler(
  app: HttpApp,
  telemetry: Telemetry,
  options: StreamingHandlerOptions = {},
) {
  const { afterResponse } = options;
  const handler = middy<APIGatewayProxyEvent, unknown, Error, Context>({
    executionMode: executionModeStreamifyResponse,
    // middy runs `requestEnd` after the body is piped into the response stream and that stream ended.
    ...(afterResponse === undefined
      ? {}
      : {
          requestEnd: async () => {
            await afterResponse();
            if (telemetry.metrics.hasStoredMetrics()) telemetry.metrics.publishStoredMetrics();
          },
        }),
  }).handler(async (event, context) => {
    const controller = new AbortController();
    const signal = AbortSignal.any([controller.signal, deadlineSignal(context)]);
    const request = requestFromProxyEvent(event, signal);
    const response = await app.fetch(request, { requestId: event.requestContext?.requestId });
    const source =
      response.body === null
        ? Readable.from([])
        : Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>);
    const body = publishingMetricsAtEnd(source, telemetry);
    body.once('close', () => controller.abort());
    return { statusCode: response.status, headers: plainHeaders(response.headers), body };
  });
  return withObservability(handler as never, telemetry) as unknown;
}
