import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { LookupFunction } from 'node:net';
import {
  AllowedHosts,
  blockedAddress,
  blockedHostName,
  neverAllowedAddress,
  neverAllowedHostName,
  parseIpv4Literal,
} from './address-policy.ts';

/**
 * Outbound HTTP for tools, safe against server-side request forgery (HLD §10.1): only http and
 * https; the host is resolved here and every address it resolves to is checked; the connection is
 * pinned to the checked address (the socket's `lookup` returns it), so a second, rebinding DNS answer
 * is never used; every redirect is checked the same way; credentials never follow a redirect to
 * another origin; and the response is cut off at a size and a time limit.
 */

/** Why an outbound request failed; the codes are tool error codes. */
export type OutboundErrorCode = 'blocked_destination' | 'timeout' | 'network_error' | 'response_too_large';

/** A failed outbound request; `message` is safe to show a tenant or a model (no secrets, no addresses resolved). */
export class OutboundRequestError extends Error {
  readonly code: OutboundErrorCode;
  constructor(code: OutboundErrorCode, message: string) {
    super(message);
    this.name = 'OutboundRequestError';
    this.code = code;
  }
}

/** One resolved address of a host name. */
export type ResolvedAddress = { address: string; family: 4 | 6 };

/** Resolves a host name to all its addresses. */
export type HostResolver = (hostname: string) => Promise<ResolvedAddress[]>;

/** The system resolver (what `getaddrinfo` answers), every address. */
export const systemResolver: HostResolver = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map(({ address, family }) => ({
    address,
    family: family === 6 ? 6 : 4,
  }));

export type SafeFetchOptions = {
  /** Destinations allowed despite the address policy (the local node's own test servers). */
  allowedHosts?: AllowedHosts;
  resolver?: HostResolver;
  /** Redirects followed at most; one more fails the request. */
  maxRedirects?: number;
};

export type SafeRequest = {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** The whole request (every redirect included) fails with `timeout` after this long. */
  timeoutMs: number;
  /** A response body longer than this fails with `response_too_large`, as soon as it is. */
  maxResponseBytes: number;
  /** Headers (lower case) sent only to the first request's origin, never across a redirect to another one. */
  sensitiveHeaders?: readonly string[];
  signal?: AbortSignal;
};

export type SafeResponse = { status: number; headers: Record<string, string>; body: Buffer; url: string };

/** Headers a caller may not set: the client decides them. */
const reservedHeaders = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'accept-encoding',
]);

/** Always dropped on a redirect to another origin, besides the caller's own sensitive headers. */
const credentialHeaders = ['authorization', 'proxy-authorization', 'cookie'];

const redirectStatuses = new Set([301, 302, 303, 307, 308]);

type Destination = { url: URL; address: ResolvedAddress };

/** The `fetch` of tools; see the module comment for what it guarantees. */
export type SafeFetch = (request: SafeRequest) => Promise<SafeResponse>;

/** Creates a {@link SafeFetch}; by default it refuses every non-public destination. */
export function createSafeFetch(options: SafeFetchOptions = {}): SafeFetch {
  const allowed = options.allowedHosts ?? new AllowedHosts([]);
  const resolver = options.resolver ?? systemResolver;
  const maxRedirects = options.maxRedirects ?? 5;

  async function vet(url: URL, signal: AbortSignal): Promise<Destination> {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new OutboundRequestError(
        'blocked_destination',
        `Only http and https URLs may be fetched, not ${url.protocol}`,
      );
    }
    if (url.username !== '' || url.password !== '') {
      throw new OutboundRequestError('blocked_destination', 'URLs with credentials are refused');
    }
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const isAllowed = allowed.allows(url.hostname, port);
    const refuse = (reason: string) =>
      new OutboundRequestError(
        'blocked_destination',
        `The destination ${url.host} is not allowed: ${reason}`,
      );
    // A literal in any notation is checked as the address it denotes, never resolved.
    const literal = isIP(host) !== 0 ? host : parseIpv4Literal(host);
    if (literal !== undefined) {
      const reason = isAllowed ? neverAllowedAddress(literal) : blockedAddress(literal);
      if (reason !== undefined) throw refuse(reason);
      return { url, address: { address: literal, family: isIP(literal) === 6 ? 6 : 4 } };
    }
    const nameReason = isAllowed ? neverAllowedHostName(host) : blockedHostName(host);
    if (nameReason !== undefined) throw refuse(nameReason);
    let addresses: ResolvedAddress[];
    try {
      addresses = await abortable(resolver(host), signal);
    } catch (error) {
      if (error instanceof OutboundRequestError) throw error;
      throw new OutboundRequestError('network_error', `The host ${host} could not be resolved`);
    }
    if (addresses.length === 0)
      throw new OutboundRequestError('network_error', `The host ${host} has no address`);
    // Every address must pass: a name answering with one public and one private address is refused.
    for (const candidate of addresses) {
      const reason = isAllowed ? neverAllowedAddress(candidate.address) : blockedAddress(candidate.address);
      if (reason !== undefined)
        throw refuse(`it resolves to a non-public address (${reason.split(' is ')[1] ?? 'blocked'})`);
    }
    return { url, address: addresses[0]! };
  }

  return async function safeFetch(request: SafeRequest): Promise<SafeResponse> {
    const timeout = AbortSignal.timeout(Math.max(1, request.timeoutMs));
    const signal = request.signal === undefined ? timeout : AbortSignal.any([timeout, request.signal]);
    const sensitive = new Set([
      ...credentialHeaders,
      ...(request.sensitiveHeaders ?? []).map((h) => h.toLowerCase()),
    ]);
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      throw new OutboundRequestError('blocked_destination', 'The URL is not valid');
    }
    const origin = url.origin;
    let method = request.method.toUpperCase();
    let body = request.body;
    let headers = Object.fromEntries(
      Object.entries(request.headers ?? {})
        .map(([name, value]) => [name.toLowerCase(), value] as const)
        .filter(([name]) => !reservedHeaders.has(name)),
    );
    try {
      for (let redirects = 0; ; redirects += 1) {
        const destination = await vet(url, signal);
        const response = await send(destination, method, headers, body, signal, request.maxResponseBytes);
        const location = response.headers['location'];
        if (!redirectStatuses.has(response.status) || location === undefined) return response;
        if (redirects >= maxRedirects) {
          throw new OutboundRequestError('network_error', `More than ${maxRedirects} redirects`);
        }
        try {
          url = new URL(location, url);
        } catch {
          throw new OutboundRequestError('network_error', 'A redirect named an invalid URL');
        }
        if (
          response.status === 303 ||
          ((response.status === 301 || response.status === 302) && method === 'POST')
        ) {
          method = 'GET';
          body = undefined;
          headers = Object.fromEntries(Object.entries(headers).filter(([name]) => name !== 'content-type'));
        }
        // Credentials stay with the origin they were meant for.
        if (url.origin !== origin) {
          headers = Object.fromEntries(Object.entries(headers).filter(([name]) => !sensitive.has(name)));
        }
      }
    } catch (error) {
      if (timeout.aborted || request.signal?.aborted === true) {
        throw new OutboundRequestError(
          'timeout',
          `The request did not finish within ${request.timeoutMs} ms`,
        );
      }
      throw error;
    }
  };
}

/** Rejects as soon as `signal` aborts, whatever `promise` does. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new OutboundRequestError('timeout', 'The request timed out'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new OutboundRequestError('timeout', 'The request timed out'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** One HTTP exchange with the vetted address; the socket never resolves the name again. */
function send(
  destination: Destination,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  signal: AbortSignal,
  maxBytes: number,
): Promise<SafeResponse> {
  const { url, address } = destination;
  const pinned: LookupFunction = (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all === true) {
      (callback as unknown as (error: null, addresses: ResolvedAddress[]) => void)(null, [address]);
    } else {
      callback(null, address.address, address.family);
    }
  };
  const payload = body === undefined ? undefined : Buffer.from(body, 'utf8');
  const outgoing: OutgoingHttpHeaders = {
    ...headers,
    'accept-encoding': 'identity',
    ...(payload === undefined ? {} : { 'content-length': payload.length }),
  };
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  const requester = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<SafeResponse>((resolve, reject) => {
    const req = requester(
      {
        method,
        protocol: url.protocol,
        // A name is kept as the host (Host header, TLS server name and certificate check); the
        // socket still connects only to the vetted address.
        host: isIP(hostname) !== 0 ? address.address : hostname,
        port: url.port === '' ? undefined : Number(url.port),
        path: `${url.pathname}${url.search}`,
        headers: outgoing,
        lookup: pinned,
        agent: false,
        signal,
      },
      (res: IncomingMessage) => {
        const declared = Number(res.headers['content-length'] ?? 0);
        if (declared > maxBytes) {
          res.destroy();
          reject(tooLarge(maxBytes));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            res.destroy();
            reject(tooLarge(maxBytes));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: Object.fromEntries(
              Object.entries(res.headers)
                .filter((entry): entry is [string, string | string[]] => entry[1] !== undefined)
                .map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : value]),
            ),
            body: Buffer.concat(chunks),
            url: url.toString(),
          }),
        );
        res.on('error', () => reject(new OutboundRequestError('network_error', 'The response was cut off')));
      },
    );
    req.on('error', (error: Error & { code?: string }) =>
      reject(new OutboundRequestError('network_error', `The request failed (${error.code ?? error.name})`)),
    );
    req.end(payload);
  });
}

function tooLarge(maxBytes: number): OutboundRequestError {
  return new OutboundRequestError('response_too_large', `The response is larger than ${maxBytes} bytes`);
}
