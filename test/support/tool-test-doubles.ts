import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request the test server received. */
export type ReceivedRequest = { method: string; url: string; headers: IncomingHttpHeaders; body: string };

/**
 * A local HTTP server for tool tests: `/echo…` answers 200 with JSON of the request, `/status/<n>`
 * answers status n, `/big` answers 256 KiB, `/slow` never answers, `/redirect?to=<url>` answers 302.
 */
export async function startToolTestServer(): Promise<{
  url: string;
  port: number;
  received: ReceivedRequest[];
  close(): Promise<void>;
}> {
  const received: ReceivedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(request);
      const path = new URL(request.url, 'http://x');
      if (path.pathname.startsWith('/status/')) {
        res.writeHead(Number(path.pathname.slice('/status/'.length)), { 'content-type': 'text/plain' });
        res.end('upstream says no');
      } else if (path.pathname === '/big') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('x'.repeat(256 * 1024));
      } else if (path.pathname === '/slow') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial');
      } else if (path.pathname === '/redirect') {
        res.writeHead(302, { location: path.searchParams.get('to') ?? '/' });
        res.end();
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(request));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
