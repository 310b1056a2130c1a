import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { HttpApp } from './http-app.ts';

/** Where problems of the transport itself go (a client that hung up is not one of them). */
export type NodeAdapterLog = { warn(message: string, attributes: Record<string, unknown>): void };

/** Options of {@link createNodeListener}. */
export type NodeListenerOptions = {
  /** Bodies above this are answered 413 without reaching the core. */
  maxRequestBytes: number;
  log: NodeAdapterLog;
};

const payloadTooLarge = JSON.stringify({
  error: {
    code: 'invalid_request',
    message: 'Request body is larger than the server accepts',
    correlation_id: 'none',
    details: {},
  },
});

async function readLimited(req: IncomingMessage, limit: number): Promise<Buffer | 'too_large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Keep reading (and dropping) the rest, so the answer is a 413 rather than a reset connection.
    if (size > limit) tooLarge = true;
    else chunks.push(chunk);
  }
  return tooLarge ? 'too_large' : Buffer.concat(chunks);
}

function isAbort(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'ABORT_ERR';
}

/**
 * Serves an HTTP core from Node's `http` module: the request becomes a web `Request` whose signal
 * aborts when the client goes away, and the `Response` body is piped with backpressure. No client
 * behaviour (hang-up at any stage, oversized body) can throw out of the listener.
 */
export function createNodeListener(app: HttpApp, options: NodeListenerOptions) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const controller = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    req.on('error', (error) => options.log.warn('request stream failed', { error: String(error) }));
    res.on('error', (error) => options.log.warn('response stream failed', { error: String(error) }));
    void (async () => {
      const body = await readLimited(req, options.maxRequestBytes);
      if (body === 'too_large') {
        res.writeHead(413, { 'content-type': 'application/json' }).end(payloadTooLarge);
        return;
      }
      const request = new Request(new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`), {
        method: req.method ?? 'GET',
        headers: Object.entries(req.headers).flatMap(([name, value]) =>
          value === undefined
            ? []
            : (Array.isArray(value) ? value : [value]).map((v) => [name, v] as [string, string]),
        ),
        ...(body.length > 0 && req.method !== 'GET' && req.method !== 'HEAD' ? { body } : {}),
        signal: controller.signal,
      });
      const response = await app.fetch(request);
      const headers: Record<string, string> = {};
      response.headers.forEach((value, name) => {
        headers[name] = value;
      });
      res.writeHead(response.status, headers);
      if (response.body === null) {
        res.end();
        return;
      }
      await pipeline(Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>), res);
    })().catch((error: unknown) => {
      if (controller.signal.aborted || isAbort(error)) return;
      options.log.warn('request could not be served', { error: String(error) });
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end();
    });
  };
}

/** A running Node server for an HTTP core. */
export type NodeServer = { url: string; port: number; close(): Promise<void> };

/** Listens on `host:port` (0 picks a free port) with {@link createNodeListener}. */
export async function serveNode(
  app: HttpApp,
  options: Partial<NodeListenerOptions> & { port?: number; host?: string },
): Promise<NodeServer> {
  const server: Server = createServer(
    createNodeListener(app, {
      maxRequestBytes: options.maxRequestBytes ?? 10 * 1024 * 1024,
      log: options.log ?? { warn: (message, attributes) => console.warn(message, attributes) },
    }),
  );
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
