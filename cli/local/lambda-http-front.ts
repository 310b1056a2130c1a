import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { createResourceMatcher, toProxyEvent } from './api-gateway-event.ts';
import { createLambdaContext } from './lambda-context.ts';
import { isStreamingHandler, preludeDelimiter } from './lambda-runtime-shim.ts';

/** One API Gateway route served locally: a resource template and the Lambda handler behind it. */
export type LocalRoute = {
  resource: string;
  /** An HTTP method or `ANY`. */
  method: string;
  functionName: string;
  timeoutSeconds: number;
  handler: unknown;
};

/** A running HTTP front. */
export type HttpFront = { url: string; port: number; close(): Promise<void> };

/** API Gateway's payload limit. */
const maxPayloadBytes = 10 * 1024 * 1024;

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxPayloadBytes) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
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
 * is written, as API Gateway's STREAM transfer mode does.
 */
function responseStreamFor(res: ServerResponse): Writable {
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
          startBody(JSON.parse(combined.subarray(0, at).toString('utf8')) as { statusCode?: number });
          prelude = undefined;
          data = combined.subarray(at + preludeDelimiter.length);
        }
      }
      if (data.length === 0) {
        callback();
        return;
      }
      if (res.write(data)) callback();
      else res.once('drain', () => callback());
    },
    final(callback) {
      if (prelude !== undefined) startBody({});
      res.end();
      callback();
    },
  });
  // The client went away: fail the handler's pipeline so it stops producing, as Lambda does.
  res.once('close', () => {
    if (!res.writableFinished) stream.destroy(new Error('client disconnected'));
  });
  return stream;
}

async function invoke(
  route: LocalRoute,
  res: ServerResponse,
  event: ReturnType<typeof toProxyEvent>,
): Promise<void> {
  const context = createLambdaContext(route.functionName, route.timeoutSeconds);
  if (isStreamingHandler(route.handler)) {
    const stream = responseStreamFor(res);
    try {
      await route.handler(event, stream, context);
      if (!stream.writableEnded && !stream.destroyed) stream.end();
    } catch (error) {
      if (!res.headersSent) sendJson(res, 502, { message: 'Internal server error' });
      else res.destroy(error instanceof Error ? error : undefined);
    }
    return;
  }
  const handler = route.handler as (event: unknown, context: unknown) => Promise<APIGatewayProxyResult>;
  try {
    writeBufferedResult(res, await handler(event, context));
  } catch {
    sendJson(res, 502, { message: 'Internal server error' });
  }
}

/**
 * Serves Lambda handlers on localhost the way API Gateway's REST API fronts them: requests become
 * proxy events, buffered results become responses, and response-streaming handlers stream.
 */
export async function startHttpFront(options: {
  routes: LocalRoute[];
  port?: number;
  host?: string;
  stage?: string;
}): Promise<HttpFront> {
  const match = createResourceMatcher(options.routes);
  const stage = options.stage ?? 'local';
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://local').pathname;
      const found = match(req.method ?? 'GET', path);
      if (found === undefined) {
        sendJson(res, 403, { message: 'Missing Authentication Token' });
        return;
      }
      const body = await readBody(req);
      if (body === undefined) {
        sendJson(res, 413, { message: 'Request Too Long' });
        return;
      }
      const event = toProxyEvent({
        request: req,
        body,
        resource: found.template.resource,
        pathParameters: found.pathParameters,
        stage,
      });
      await invoke(found.template, res, event);
    })().catch(() => {
      if (!res.headersSent) sendJson(res, 502, { message: 'Internal server error' });
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) =>
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve),
  );
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
