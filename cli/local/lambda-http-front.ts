import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { APIGatewayProxyResult } from 'aws-lambda';
import type { Registry } from 'prom-client';
import { gatewayResponseBody, restApiDefinition } from '../../infra/resources/definitions.ts';
import type { GatewayResponseDefinition } from '../../infra/resources/definitions.ts';
import { healthRoute } from '../../functions/shared/http/health-route.ts';
import { createResourceMatcher, toProxyEvent } from './api-gateway-event.ts';
import { createLambdaContext } from './lambda-context.ts';
import { inInvocation, isStreamingHandler, preludeDelimiter } from './lambda-runtime-shim.ts';

/** One API Gateway route served locally: a resource template and the Lambda handler behind it. */
export type LocalRoute = {
  resource: string;
  /** An HTTP method or `ANY`. */
  method: string;
  functionName: string;
  timeoutSeconds: number;
  handler: unknown;
};

/** Where a front given a metrics registry serves it (the path Prometheus scrapes by default). */
export const metricsPath = '/metrics';

/** A running HTTP front. */
export type HttpFront = {
  url: string;
  port: number;
  /** Response streams (event streams, streamed model calls) open now; a front of this module counts them. */
  openStreams?(): number;
  /** Stops listening, drops open connections and waits (bounded) for invocations still running. */
  close(): Promise<void>;
};

/**
 * Pages a local node serves beside its APIs (its dashboard): answers and returns `true` for a path
 * of its own, `false` for any other.
 */
export type LocalPages = (
  request: IncomingMessage,
  response: ServerResponse,
  path: string,
) => Promise<boolean>;

/** Where the front reports what went wrong outside any handler (never request bodies). */
export type FrontLog = (message: string, attributes: Record<string, unknown>) => void;

const defaultLog: FrontLog = (message, attributes) =>
  console.error(JSON.stringify({ level: 'WARN', message, ...attributes }));

/**
 * One answered request, as the front saw it: its status, how long until the response ended, and
 * whether it was a response stream (whose length is the client's, not a latency).
 */
export type ServedRequest = { status: number; latencyMs: number; streaming: boolean };

/**
 * The header the node's own tooling (the dashboard, the alerts process) sets on its health probes:
 * they are not client traffic, so the front neither observes nor logs them, and they never dilute
 * the error rate the local alarms compute from the access lines.
 */
export const localProbeHeader = 'x-agentos-local-probe';

/**
 * An observer writing one structured `request served` line per answered request of `api`, to
 * standard output unless told where.
 */
export function accessLogLine(
  api: string,
  write: (line: string) => void = (line) => console.log(line),
): (served: ServedRequest) => void {
  return (served) =>
    write(
      JSON.stringify({
        level: 'INFO',
        message: 'request served',
        api,
        status: served.status,
        latency_ms: served.latencyMs,
        streaming: served.streaming,
        timestamp: new Date().toISOString(),
      }),
    );
}

/** Bodies beyond this many bytes past the limit are no longer drained: the connection is closed. */
const maxDrainBytes = 4 * restApiDefinition.maxPayloadBytes;

function gatewayResponse(type: GatewayResponseDefinition['type']): GatewayResponseDefinition {
  return restApiDefinition.gatewayResponses.find((response) => response.type === type)!;
}

/** Answers as API Gateway's own gateway responses do: the error envelope, with the gateway's request id. */
function sendGatewayResponse(
  res: ServerResponse,
  type: GatewayResponseDefinition['type'],
  requestId: string,
  status?: number,
): void {
  if (res.headersSent || res.destroyed) return;
  const response = gatewayResponse(type);
  res.writeHead(status ?? response.statusCode ?? 502, {
    'content-type': 'application/json',
    'x-amzn-requestid': requestId,
  });
  res.end(gatewayResponseBody(response, requestId));
}

type BodyOutcome = { kind: 'ok'; body: Buffer } | { kind: 'too_large' } | { kind: 'aborted' };

/**
 * Reads a request body up to API Gateway's payload limit. Beyond it the rest is read and dropped
 * (up to a bound), so the client gets a 413 answer rather than a reset connection.
 */
function readBody(req: IncomingMessage): Promise<BodyOutcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= restApiDefinition.maxPayloadBytes) chunks.push(chunk);
      else if (size > maxDrainBytes) {
        resolve({ kind: 'too_large' });
        req.destroy();
      }
    });
    req.on('end', () =>
      resolve(
        size > restApiDefinition.maxPayloadBytes
          ? { kind: 'too_large' }
          : { kind: 'ok', body: Buffer.concat(chunks) },
      ),
    );
    // A client that hangs up mid-upload: nothing to answer.
    req.on('aborted', () => resolve({ kind: 'aborted' }));
    req.on('error', () => resolve({ kind: 'aborted' }));
  });
}

function writeBufferedResult(res: ServerResponse, result: APIGatewayProxyResult): void {
  const headers: Record<string, string | string[]> = {
    ...(result.headers as Record<string, string> | undefined),
  };
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {}))
    headers[name] = values.map(String);
  res.writeHead(result.statusCode, headers);
  res.end(result.isBase64Encoded === true ? Buffer.from(result.body, 'base64') : result.body);
}

/**
 * A Writable given to streaming handlers as Lambda's response stream. It parses the metadata prelude
 * (JSON, then eight NUL bytes) into the HTTP status and headers, then passes the body through as it
 * is written, honouring the client's backpressure, as API Gateway's STREAM transfer mode does.
 */
function responseStreamFor(res: ServerResponse, log: FrontLog): Writable {
  let prelude: Buffer | undefined = Buffer.alloc(0);
  const startBody = (metadata: {
    statusCode?: number;
    headers?: Record<string, string>;
    cookies?: string[];
  }) => {
    const headers: Record<string, string | string[]> = { ...metadata.headers };
    if (metadata.cookies !== undefined && metadata.cookies.length > 0)
      headers['set-cookie'] = metadata.cookies;
    res.writeHead(metadata.statusCode ?? 200, headers);
    res.flushHeaders();
  };
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (res.destroyed) {
        callback(new Error('client disconnected'));
        return;
      }
      let data = chunk;
      if (prelude !== undefined) {
        const combined = Buffer.concat([prelude, data]);
        const at = combined.indexOf(preludeDelimiter);
        if (at === -1) {
          // Without a prelude Lambda streams a 200 with the bytes as they are; wait for a JSON start first.
          if (combined.length > 0 && combined[0] !== 0x7b) {
            prelude = undefined;
            startBody({});
            data = combined;
          } else {
            prelude = combined;
            callback();
            return;
          }
        } else {
          let metadata: { statusCode?: number; headers?: Record<string, string> };
          try {
            metadata = JSON.parse(combined.subarray(0, at).toString('utf8')) as typeof metadata;
          } catch (error) {
            callback(error instanceof Error ? error : new Error('invalid response prelude'));
            return;
          }
          startBody(metadata);
          prelude = undefined;
          data = combined.subarray(at + preludeDelimiter.length);
        }
      }
      if (data.length === 0) {
        callback();
        return;
      }
      if (res.write(data)) callback();
      else {
        const resume = () => {
          res.off('close', resume);
          res.off('drain', resume);
          callback(res.destroyed ? new Error('client disconnected') : undefined);
        };
        res.once('drain', resume);
        res.once('close', resume);
      }
    },
    final(callback) {
      if (prelude !== undefined && !res.headersSent) startBody({});
      res.end();
      callback();
    },
  });
  // The client went away: stop the handler's pipeline, as Lambda does. The error is expected and
  // handled here, so it can never surface as an unhandled 'error' event.
  stream.on('error', (error) => {
    if (!res.destroyed) log('response stream failed', { error: String(error) });
  });
  res.once('close', () => {
    if (!res.writableFinished) stream.destroy(new Error('client disconnected'));
  });
  return stream;
}

async function invoke(
  route: LocalRoute,
  res: ServerResponse,
  event: ReturnType<typeof toProxyEvent>,
  log: FrontLog,
): Promise<void> {
  const requestId = event.requestContext.requestId;
  await inInvocation(requestId, () => invokeWithin(route, res, event, log, requestId));
}

async function invokeWithin(
  route: LocalRoute,
  res: ServerResponse,
  event: ReturnType<typeof toProxyEvent>,
  log: FrontLog,
  requestId: string,
): Promise<void> {
  const context = createLambdaContext(route.functionName, route.timeoutSeconds);
  if (isStreamingHandler(route.handler)) {
    const stream = responseStreamFor(res, log);
    try {
      await route.handler(event, stream, context);
      if (!stream.writableEnded && !stream.destroyed) stream.end();
    } catch (error) {
      if (res.destroyed) return; // the client hung up: the handler was stopped on purpose
      log('streaming function failed', {
        function: route.functionName,
        request_id: requestId,
        error: String(error),
      });
      if (!res.headersSent) sendGatewayResponse(res, 'DEFAULT_5XX', requestId, 502);
      else res.destroy();
    }
    return;
  }
  const handler = route.handler as (event: unknown, context: unknown) => Promise<APIGatewayProxyResult>;
  try {
    const result = await handler(event, context);
    if (!res.destroyed) writeBufferedResult(res, result);
  } catch (error) {
    log('function failed', { function: route.functionName, request_id: requestId, error: String(error) });
    sendGatewayResponse(res, 'DEFAULT_5XX', requestId, 502);
  }
}

/**
 * Serves Lambda handlers on localhost the way API Gateway's REST API fronts them: requests become
 * proxy events (bodies base64, as under the API's binary media types), buffered results become
 * responses, response-streaming handlers stream, and what never reaches a function (no route, too
 * large a body, a crashed function) gets the API's gateway responses. No client behaviour, such as
 * hanging up at any stage, can take the front down.
 */
export async function startHttpFront(options: {
  routes: LocalRoute[];
  port?: number;
  host?: string;
  stage?: string;
  log?: FrontLog;
  /** Told of every answered request (the local node's access log, which its alarms read). */
  observe?: (served: ServedRequest) => void;
  /**
   * Served at `GET /metrics` in the Prometheus text format when given. Unauthenticated, as a
   * scraper expects: it holds global, bounded-label aggregates only (HLD §9.2), never a tenant's
   * id or data, and a local node listens on loopback unless told otherwise.
   */
  metricsRegistry?: Registry;
  /** The node's own pages (its dashboard), answered before the API's routes and not observed. */
  localPages?: LocalPages;
  /**
   * How long `close` waits for invocations in flight, which may still be settling model calls after
   * their answers went out (HLD §5.3); the node's stop grace is 5 s, so 4 s by default.
   */
  drainMs?: number;
}): Promise<HttpFront> {
  const match = createResourceMatcher(options.routes);
  const stage = options.stage ?? 'local';
  const log = options.log ?? defaultLog;
  const drainMs = options.drainMs ?? 4_000;
  let openStreams = 0;
  // Invocations not yet returned, as Lambda would let them finish: a handler may still be working
  // after its response ended (a deferred settlement), and must not be cut off by a stop.
  const inFlight = new Set<Promise<void>>();
  const server: Server = createServer((req, res) => {
    res.on('error', (error) => log('response stream failed', { error: String(error) }));
    const started = performance.now();
    let streaming = false;
    // A health probe of the node's own tooling is answered like any request, but not observed.
    let ownPage =
      req.headers[localProbeHeader] !== undefined &&
      req.method === 'GET' &&
      new URL(req.url ?? '/', 'http://local').pathname === healthRoute.path;
    const { observe } = options;
    if (observe !== undefined) {
      // Once per request: when the response is handed over, or when the client left before that.
      let observed = false;
      const report = () => {
        if (observed || ownPage) return;
        observed = true;
        observe({ status: res.statusCode, latencyMs: Math.round(performance.now() - started), streaming });
      };
      res.once('finish', report);
      res.once('close', report);
    }
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://local').pathname;
      if (options.localPages !== undefined) {
        ownPage = await options.localPages(req, res, path);
        if (ownPage) return;
      }
      if (options.metricsRegistry !== undefined && req.method === 'GET' && path === metricsPath) {
        const text = await options.metricsRegistry.metrics();
        res.writeHead(200, { 'content-type': options.metricsRegistry.contentType });
        res.end(text);
        return;
      }
      const found = match(req.method ?? 'GET', path);
      streaming = found !== undefined && isStreamingHandler(found.template.handler);
      if (streaming) {
        openStreams += 1;
        res.once('close', () => (openStreams -= 1));
      }
      const outcome = await readBody(req);
      if (outcome.kind === 'aborted') return;
      const requestId = crypto.randomUUID();
      if (found === undefined) {
        sendGatewayResponse(res, 'MISSING_AUTHENTICATION_TOKEN', requestId);
        return;
      }
      if (outcome.kind === 'too_large') {
        sendGatewayResponse(res, 'REQUEST_TOO_LARGE', requestId);
        return;
      }
      const event = toProxyEvent({
        request: req,
        body: outcome.body,
        resource: found.template.resource,
        pathParameters: found.pathParameters,
        stage,
        binaryMediaTypes: restApiDefinition.binaryMediaTypes,
        requestId,
      });
      const invocation = invoke(found.template, res, event, log);
      inFlight.add(invocation);
      try {
        await invocation;
      } finally {
        inFlight.delete(invocation);
      }
    })().catch((error: unknown) => {
      log('front failed to serve a request', { error: String(error) });
      sendGatewayResponse(res, 'DEFAULT_5XX', 'local', 502);
    });
  });
  server.on('clientError', (error, socket) => {
    // A client that reset its connection has nobody left to answer; anything else is malformed HTTP,
    // answered 400 if the socket still can. Never throw: a client must not take the node down.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ECONNRESET' || !socket.writable) {
      log('client connection reset', { error: error.message });
      socket.destroy();
      return;
    }
    log('malformed request from a client', { error: error.message });
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });
  server.keepAliveTimeout = 5_000;
  // A port taken by another process must fail the start with its reason, not crash the process
  // with an unhandled 'error' event.
  await new Promise<void>((resolve, reject) => {
    const refused = (error: Error) =>
      reject(new Error(`cannot listen on port ${options.port ?? 0}: ${error.message}`));
    server.once('error', refused);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', refused);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    openStreams: () => openStreams,
    close: async () => {
      const closed = new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      const pending = [...inFlight];
      if (pending.length > 0) {
        let timer: NodeJS.Timeout | undefined;
        const outcome = await Promise.race([
          Promise.allSettled(pending).then(() => 'drained' as const),
          new Promise<'timed out'>((resolve) => {
            timer = setTimeout(() => resolve('timed out'), drainMs);
          }),
        ]);
        clearTimeout(timer);
        if (outcome === 'timed out')
          log('invocations still running when the front stopped', { invocations: inFlight.size });
      }
      await closed;
    },
  };
}
