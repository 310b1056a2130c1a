import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientCertificateFetch } from '../../../functions/orchestrator/federation/peer-fetch.ts';
import { httpJwksFetcher } from '../../../functions/orchestrator/federation/peer-jwks.ts';
import type { ClientCertificate } from '../../../functions/orchestrator/federation/peer-fetch.ts';

/**
 * A peer behind mutual TLS (HLD §7.1), played by a local HTTPS server that requires a client
 * certificate signed by its CA: the node's federation `fetch` reaches it only with the node's
 * certificate. The CA and certificates are throwaway ones made with openssl for this file.
 */
const openssl = promisify(execFile);
let dir: string;
let server: Server;
let baseUrl: string;
let ca: string;
let client: ClientCertificate;

async function pem(name: string): Promise<string> {
  return readFile(join(dir, name), 'utf8');
}

/** A key and a certificate for `cn` signed by the test CA, with `extension` (e.g. the server's SAN). */
async function issue(cn: string, extension: string): Promise<void> {
  await openssl('openssl', [
    'req',
    '-new',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    `/CN=${cn}`,
    '-keyout',
    join(dir, `${cn}.key`),
    '-out',
    join(dir, `${cn}.csr`),
  ]);
  await writeFile(join(dir, `${cn}.ext`), extension);
  await openssl('openssl', [
    'x509',
    '-req',
    '-in',
    join(dir, `${cn}.csr`),
    '-CA',
    join(dir, 'ca.crt'),
    '-CAkey',
    join(dir, 'ca.key'),
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    join(dir, `${cn}.ext`),
    '-out',
    join(dir, `${cn}.crt`),
  ]);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agentos-mtls-'));
  await openssl('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=test-ca',
    '-days',
    '1',
    '-keyout',
    join(dir, 'ca.key'),
    '-out',
    join(dir, 'ca.crt'),
  ]);
  await issue('localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await issue('node-a', 'extendedKeyUsage=clientAuth\n');
  ca = await pem('ca.crt');
  client = { cert: await pem('node-a.crt'), key: await pem('node-a.key'), ca };
  server = createServer(
    {
      cert: await pem('localhost.crt'),
      key: await pem('localhost.key'),
      ca,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (request, response) => {
      let body = '';
      request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        if (request.url === '/.well-known/jwks.json') {
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ keys: [] }));
          return;
        }
        const peer = (request.socket as TLSSocket).getPeerCertificate();
        response.writeHead(201, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({
            client: peer.subject?.CN,
            method: request.method,
            token: request.headers.authorization,
            body,
          }),
        );
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('the federation fetch with a client certificate', () => {
  it('returns the peer’s answer when the node presents its certificate', async () => {
    const fetchWithCert = createClientCertificateFetch(async () => client);
    const response = await fetchWithCert(`${baseUrl}/v1/federation/runs:forward`, {
      method: 'POST',
      headers: { authorization: 'Bearer peer-token', 'content-type': 'application/json' },
      body: '{"agent_id":"sample-agent"}',
      signal: AbortSignal.timeout(10_000),
    });
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({
      client: 'node-a',
      method: 'POST',
      token: 'Bearer peer-token',
      body: '{"agent_id":"sample-agent"}',
    });
  });

  it('returns the peer’s key set to the JWKS fetcher through the node’s certificate, and throws without one', async () => {
    const withCert = httpJwksFetcher({ fetch: createClientCertificateFetch(async () => client) });
    expect(await withCert(`${baseUrl}/.well-known/jwks.json`)).toEqual({ keys: [] });
    const withoutCert = httpJwksFetcher({
      fetch: createClientCertificateFetch(async () => ({ cert: '', key: '', ca })),
      attempts: 1,
    });
    await expect(withoutCert(`${baseUrl}/.well-known/jwks.json`)).rejects.toMatchObject({
      code: 'dependency_unavailable',
    });
  });

  it('throws when the node presents no certificate, as the peer refuses the handshake', async () => {
    const withoutCert = createClientCertificateFetch({ cert: '', key: '', ca });
    await expect(
      withoutCert(`${baseUrl}/v1/peer/info`, { signal: AbortSignal.timeout(10_000) }),
    ).rejects.toThrow();
  });

  it('throws when the certificate is not one the peer’s CA signed', async () => {
    await issue('stranger', 'extendedKeyUsage=clientAuth\n');
    // Self-signed: same subject, no chain to the peer's CA.
    await openssl('openssl', [
      'req',
      '-x509',
      '-key',
      join(dir, 'stranger.key'),
      '-subj',
      '/CN=stranger',
      '-days',
      '1',
      '-out',
      join(dir, 'stranger-self.crt'),
    ]);
    const stranger = createClientCertificateFetch({
      cert: await pem('stranger-self.crt'),
      key: await pem('stranger.key'),
      ca,
    });
    await expect(
      stranger(`${baseUrl}/v1/peer/info`, { signal: AbortSignal.timeout(10_000) }),
    ).rejects.toThrow();
  });

  it('returns plain-HTTP calls through the fallback fetch, as a local node is reached', async () => {
    const calls: string[] = [];
    const fallback = (async (input: string | URL | Request) => {
      calls.push(String(input));
      return new Response('ok');
    }) as typeof fetch;
    const peerFetch = createClientCertificateFetch(async () => client, fallback);
    expect(await (await peerFetch('http://127.0.0.1:9/v1/peer/info')).text()).toBe('ok');
    expect(calls).toEqual(['http://127.0.0.1:9/v1/peer/info']);
  });

  it('throws the caller’s timeout when the certificate cannot be read in time', async () => {
    const peerFetch = createClientCertificateFetch(() => new Promise<ClientCertificate>(() => undefined));
    const answer = await peerFetch(`${baseUrl}/v1/peer/info`, { signal: AbortSignal.timeout(50) }).catch(
      (error: unknown) => error,
    );
    expect(answer).toMatchObject({ name: 'TimeoutError' });
  });
});
