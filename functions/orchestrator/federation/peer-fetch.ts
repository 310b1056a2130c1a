import { request } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { awsClientConfig } from '../../shared/aws/client-config.ts';
import type { EnvSource } from '../../shared/config/env.ts';
import { ConfigurationError, DependencyUnavailableError } from '../../shared/errors/agentos-error.ts';
import { federationEnv } from './federation-config.ts';

/** A client certificate and its key (PEM), as the node presents it to peers that require mTLS. */
export type ClientCertificate = { cert: string; key: string; ca?: string };

/** The secret's JSON: `{cert, key}` in PEM, and optionally `ca` (PEM) to trust beyond the system's CAs. */
export const ClientCertificateSecretSchema = z.strictObject({
  cert: z.string().includes('-----BEGIN'),
  key: z.string().includes('-----BEGIN'),
  ca: z.string().includes('-----BEGIN').optional(),
});

function headersOf(init: RequestInit | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  new Headers(init?.headers).forEach((value, name) => {
    out[name] = value;
  });
  return out;
}

function responseOf(message: IncomingMessage): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(message.headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  const status = message.statusCode ?? 502;
  const empty = status === 204 || status === 304;
  if (empty) message.resume();
  return new Response(empty ? null : (Readable.toWeb(message) as ReadableStream<Uint8Array>), {
    status,
    statusText: message.statusMessage ?? '',
    headers,
  });
}

/** `work`, or the abort reason of `signal` as soon as it aborts. */
async function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  }
}

/**
 * A `fetch` that presents `certificate` to HTTPS peers (HLD §7.1: a peer behind mutual TLS refuses a
 * node without one). `globalThis.fetch` cannot present a client certificate and undici is not a
 * dependency, so HTTPS requests go through `node:https`; plain-HTTP URLs (local nodes) go through
 * `fallback`. Bodies are strings, as every federation call sends JSON; the caller's `signal` bounds
 * the request, as with `fetch`.
 */
export function createClientCertificateFetch(
  certificate: ClientCertificate | (() => Promise<ClientCertificate>),
  fallback: typeof globalThis.fetch = globalThis.fetch,
): typeof globalThis.fetch {
  const load = typeof certificate === 'function' ? certificate : async () => certificate;
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.protocol !== 'https:') return fallback(input, init);
    if (input instanceof Request) throw new TypeError('peer fetch takes a URL and init, not a Request');
    if (init?.body !== undefined && init.body !== null && typeof init.body !== 'string')
      throw new TypeError('peer fetch sends string bodies only');
    const signal = init?.signal ?? undefined;
    // The certificate's first read counts against the caller's deadline too.
    const { cert, key, ca } = await untilAborted(load(), signal);
    signal?.throwIfAborted();
    return new Promise<Response>((resolve, reject) => {
      const outgoing = request(url, {
        method: init?.method ?? 'GET',
        headers: headersOf(init),
        cert,
        key,
        // `ca` replaces Node's trusted roots: the extra CA is added to them, so public peers stay trusted.
        ...(ca === undefined ? {} : { ca: [...rootCertificates, ca] }),
        signal,
      });
      outgoing.once('response', (message) => resolve(responseOf(message)));
      outgoing.once('error', reject);
      outgoing.end(init?.body ?? undefined);
    });
  };
}

/**
 * The `fetch` the node's outgoing federation calls (forwards, event pushes) use: with
 * `AGENTOS_FEDERATION_CLIENT_CERT_SECRET_ARN` set, one that presents the certificate in that secret
 * (read from Secrets Manager on the first HTTPS call, then kept: one certificate per process);
 * unset, `globalThis.fetch`.
 */
export function peerFetchFromEnv(env: EnvSource = process.env): typeof globalThis.fetch {
  const secretArn = federationEnv.parse(env).AGENTOS_FEDERATION_CLIENT_CERT_SECRET_ARN;
  if (secretArn === undefined) return globalThis.fetch;
  const clientConfig = awsClientConfig(env);
  let loaded: Promise<ClientCertificate> | undefined;
  const read = async (): Promise<ClientCertificate> => {
    // Its SDK client loads on the first read, not with the function.
    const { GetSecretValueCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
    const client = new SecretsManagerClient(clientConfig);
    let secret: string | undefined;
    try {
      secret = (await client.send(new GetSecretValueCommand({ SecretId: secretArn }))).SecretString;
    } catch (cause) {
      throw new DependencyUnavailableError('The federation client certificate could not be read', { cause });
    } finally {
      client.destroy();
    }
    let json: unknown;
    try {
      json = JSON.parse(secret ?? 'null');
    } catch {
      // Not chained: a JSON parse error quotes the start of the text, the secret's key included.
      json = undefined;
    }
    const parsed = ClientCertificateSecretSchema.safeParse(json);
    if (!parsed.success)
      throw new ConfigurationError('The federation client certificate secret is not {cert, key} in PEM');
    return parsed.data;
  };
  return createClientCertificateFetch(() => {
    // A failed read is not kept, so the next call reads again.
    loaded ??= read().catch((error: unknown) => {
      loaded = undefined;
      throw error;
    });
    return loaded;
  });
}
