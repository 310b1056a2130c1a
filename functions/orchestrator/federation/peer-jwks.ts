import type { JSONWebKeySet } from 'jose';
import { z } from 'zod';
import { DependencyUnavailableError } from '../../shared/errors/agentos-error.ts';

/** Where the receiver side finds a peer's public keys. */
export type JwksSource = {
  /**
   * The key set published at `url`, refreshed when it lacks `kid`; the answer may still lack it,
   * which the caller refuses.
   * @throws DependencyUnavailableError when the set cannot be fetched
   */
  keysFor(url: string, kid: string): Promise<JSONWebKeySet>;
};

/** Fetches one key set. */
export type JwksFetcher = (url: string) => Promise<JSONWebKeySet>;

const JwksSchema = z.object({
  keys: z.array(z.looseObject({ kty: z.string(), kid: z.string().optional() })).max(32),
});

/** The largest key set body read: a few keys are a few kilobytes. */
const maxJwksBytes = 64 * 1024;

/**
 * Fetches a peer's key set over HTTP with a timeout per attempt and a bounded retry of network
 * failures and 5xx answers (HLD §7.1); anything else, or a body that is no key set, fails at once.
 */
export function httpJwksFetcher(
  options: { timeoutMs?: number; attempts?: number; fetch?: typeof globalThis.fetch } = {},
): JwksFetcher {
  const timeoutMs = options.timeoutMs ?? 3_000;
  const attempts = options.attempts ?? 2;
  const fetcher = options.fetch ?? globalThis.fetch;
  return async (url) => {
    let last: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let response: Response;
      try {
        response = await fetcher(url, {
          headers: { accept: 'application/json' },
          redirect: 'error',
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        last = error;
        continue;
      }
      if (response.status >= 500) {
        last = new Error(`the key set answered ${response.status}`);
        await response.body?.cancel();
        continue;
      }
      const text = response.ok ? await response.text() : '';
      if (!response.ok || text.length > maxJwksBytes)
        throw new DependencyUnavailableError(`The peer's key set at ${url} could not be read`);
      let parsed: ReturnType<typeof JwksSchema.safeParse>;
      try {
        parsed = JwksSchema.safeParse(JSON.parse(text));
      } catch (cause) {
        throw new DependencyUnavailableError(`The peer's key set at ${url} is not JSON`, { cause });
      }
      if (!parsed.success) throw new DependencyUnavailableError(`The peer's key set at ${url} is no JWK set`);
      return parsed.data as JSONWebKeySet;
    }
    throw new DependencyUnavailableError(`The peer's key set at ${url} could not be fetched`, {
      cause: last,
    });
  };
}

/** Settings of {@link createJwksCache}. */
export type JwksCacheOptions = {
  fetch: JwksFetcher;
  now?: () => Date;
  /** Key sets kept at once (one per peer); the least recently used goes first. */
  maxEntries?: number;
  /** How long a key set is used before it is fetched again. */
  maxAgeSeconds?: number;
  /**
   * The shortest time between two fetches of one set for an unknown `kid`, so tokens naming made-up
   * keys cannot make the node hammer a peer.
   */
  minRefreshSeconds?: number;
};

/**
 * A bounded cache of peers' key sets (HLD §7.1): each is fetched on first use, again once it is
 * `maxAgeSeconds` old, and early when a token names a `kid` it lacks (at most every
 * `minRefreshSeconds`), so a peer's key rotation is picked up at once. Concurrent misses of one URL
 * share one fetch.
 */
export function createJwksCache(options: JwksCacheOptions): JwksSource {
  const now = () => (options.now ?? (() => new Date()))().getTime();
  const maxEntries = options.maxEntries ?? 64;
  const maxAgeMs = (options.maxAgeSeconds ?? 300) * 1000;
  const minRefreshMs = (options.minRefreshSeconds ?? 30) * 1000;
  const entries = new Map<string, { keys: JSONWebKeySet; fetchedAt: number }>();
  const inFlight = new Map<string, Promise<JSONWebKeySet>>();

  function remember(url: string, keys: JSONWebKeySet): void {
    entries.delete(url);
    entries.set(url, { keys, fetchedAt: now() });
    while (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
  }

  function refetch(url: string): Promise<JSONWebKeySet> {
    let pending = inFlight.get(url);
    if (pending === undefined) {
      pending = options
        .fetch(url)
        .then((keys) => {
          remember(url, keys);
          return keys;
        })
        .finally(() => inFlight.delete(url));
      inFlight.set(url, pending);
    }
    return pending;
  }

  return {
    async keysFor(url, kid) {
      const cached = entries.get(url);
      if (cached === undefined || now() - cached.fetchedAt >= maxAgeMs) return refetch(url);
      // Most recently used last, so eviction takes the least recently used.
      entries.delete(url);
      entries.set(url, cached);
      if (cached.keys.keys.some((key) => key.kid === kid)) return cached.keys;
      if (now() - cached.fetchedAt < minRefreshMs) return cached.keys;
      return refetch(url);
    },
  };
}
