import { importJWK, SignJWT } from 'jose';
import type { JSONWebKeySet, JWK } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { InMemoryPeerRegistry } from '../../../functions/orchestrator/adapters/in-memory/in-memory-peer-registry.ts';
import { InMemoryPeerTokenReplay } from '../../../functions/orchestrator/adapters/in-memory/in-memory-peer-token-replay.ts';
import { createJwksCache, httpJwksFetcher } from '../../../functions/orchestrator/federation/peer-jwks.ts';
import {
  createPeerTokenIssuer,
  createPeerTokenVerifier,
  peerTokenType,
  peerVerifiedToken,
} from '../../../functions/orchestrator/federation/peer-tokens.ts';
import type { PeerTokenVerifier } from '../../../functions/orchestrator/federation/peer-tokens.ts';
import { generateSigningKey, publicJwks } from '../../../functions/shared/auth/signing-keys.ts';
import type { SigningJwk } from '../../../functions/shared/auth/token-issuer.ts';
import { toErrorEnvelope } from '../../../functions/shared/errors/error-envelope.ts';
import { ManualClock } from '../../support/manual-clock.ts';

/**
 * Peer tokens between two nodes (HLD §7.1): east-1 signs, west-1 verifies against east-1's JWKS,
 * on a manual clock. Every refusal is checked as the client sees it: status and error envelope.
 */

const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const jwksUrl = 'https://east-1.example.com/prod/.well-known/jwks.json';

let clock: ManualClock;
let eastKey: SigningJwk;
let published: JSONWebKeySet;
let fetches: number;
let verifier: PeerTokenVerifier;

function eastIssuer(key: SigningJwk = eastKey, skewMs = 0) {
  return createPeerTokenIssuer({ nodeId: 'east-1', key, now: () => new Date(clock.now() + skewMs) });
}

const claims = {
  audience: 'west-1',
  tenantId: 'acme',
  principal: 'alice',
  scopes: ['runs:write'],
  traceparent,
};

async function refusal(token: string) {
  const error = await verifier.verify(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (error === undefined) throw new Error('the token was accepted');
  const { status, envelope } = toErrorEnvelope(error, 'corr-1');
  return { status, code: envelope.error.code, message: envelope.error.message };
}

beforeEach(async () => {
  clock = new ManualClock(Date.parse('2026-12-04T10:00:00Z'));
  eastKey = await generateSigningKey('east');
  published = publicJwks({ keys: [eastKey] });
  fetches = 0;
  const peers = new InMemoryPeerRegistry();
  await peers.add(
    {
      peer_id: 'east-1',
      base_url: 'https://east-1.example.com/prod',
      jwks_url: jwksUrl,
      tenants: [{ tenant_id: 'acme-west', peer_tenant_id: 'acme' }],
    },
    { by: 'ops', at: clock.date() },
  );
  verifier = createPeerTokenVerifier({
    nodeId: 'west-1',
    peers,
    replay: new InMemoryPeerTokenReplay({ now: () => clock.date() }),
    jwks: createJwksCache({
      fetch: async (url) => {
        expect(url).toBe(jwksUrl);
        fetches++;
        return structuredClone(published);
      },
      now: () => clock.date(),
    }),
    now: () => clock.date(),
  });
});

describe('peer tokens', () => {
  it('returns the caller, its tenant mapped to this node’s, for a token the peer signed', async () => {
    const caller = await verifier.verify(await eastIssuer().issue(claims));
    expect(caller).toMatchObject({
      peer: { peer_id: 'east-1' },
      tenantId: 'acme-west',
      peerTenantId: 'acme',
      principal: 'alice',
      scopes: ['runs:write'],
      traceparent,
      expiresAt: new Date(clock.now() + 120_000),
    });
  });

  it('throws 401 for a forged token: another key under the peer’s kid', async () => {
    const forger = { ...(await generateSigningKey('forger')), kid: eastKey.kid };
    expect(await refusal(await eastIssuer(forger).issue(claims))).toEqual({
      status: 401,
      code: 'unauthorized',
      message: 'The peer token is invalid or expired',
    });
  });

  it('throws 401 for a token signed with a key the peer does not publish, fetching its keys again once', async () => {
    const other = await generateSigningKey('other');
    await verifier.verify(await eastIssuer().issue(claims));
    expect(fetches).toBe(1);
    clock.advance(60_000);
    expect(await refusal(await eastIssuer(other).issue(claims))).toMatchObject({
      status: 401,
      code: 'unauthorized',
    });
    expect(fetches).toBe(2);
    // Made-up keys do not make the node fetch the peer's keys on every request.
    expect(await refusal(await eastIssuer(other).issue(claims))).toMatchObject({ status: 401 });
    expect(fetches).toBe(2);
  });

  it('returns the caller for a token signed with the peer’s new key after a rotation', async () => {
    await verifier.verify(await eastIssuer().issue(claims));
    const rotated = await generateSigningKey('east');
    published = publicJwks({ keys: [rotated, eastKey] });
    clock.advance(60_000);
    await expect(verifier.verify(await eastIssuer(rotated).issue(claims))).resolves.toMatchObject({
      tenantId: 'acme-west',
    });
  });

  it('throws 401 for an expired token', async () => {
    const token = await eastIssuer().issue({ ...claims, ttlSeconds: 60 });
    clock.advance(66_000);
    expect(await refusal(token)).toEqual({
      status: 401,
      code: 'unauthorized',
      message: 'The peer token has expired',
    });
  });

  it('throws 401 for a token not valid yet (issued on a clock far ahead)', async () => {
    expect(await refusal(await eastIssuer(eastKey, 120_000).issue(claims))).toMatchObject({
      status: 401,
      code: 'unauthorized',
    });
  });

  it('throws 401 for a token for another node', async () => {
    expect(await refusal(await eastIssuer().issue({ ...claims, audience: 'north-1' }))).toEqual({
      status: 401,
      code: 'unauthorized',
      message: 'The peer token is for another node',
    });
  });

  it('throws 401 for a token whose audience lists this node among others, and for an unusable sub', async () => {
    expect(
      await refusal(await eastIssuer().issue({ ...claims, audience: ['west-1', 'north-1'] as never })),
    ).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(await refusal(await eastIssuer().issue({ ...claims, principal: 'a/b c' }))).toEqual({
      status: 401,
      code: 'unauthorized',
      message: 'The peer token has an invalid sub claim',
    });
  });

  it('throws 401 for a replayed token', async () => {
    const token = await eastIssuer().issue(claims);
    await verifier.verify(token);
    expect(await refusal(token)).toEqual({
      status: 401,
      code: 'unauthorized',
      message: 'The peer token was used already; peer tokens are single-use',
    });
  });

  it('throws 401 for a token replayed after its expiry but within the tolerated clock skew', async () => {
    const token = await eastIssuer().issue({ ...claims, ttlSeconds: 60 });
    await verifier.verify(token);
    clock.advance(64_000);
    expect(await refusal(token)).toEqual({
      status: 401,
      code: 'unauthorized',
      message: 'The peer token was used already; peer tokens are single-use',
    });
  });

  it('returns only federation scopes of what a peer token claims, never this node’s own', async () => {
    const caller = await verifier.verify(
      await eastIssuer().issue({ ...claims, scopes: ['federation:forward', 'operator', 'runs:read:all'] }),
    );
    expect(peerVerifiedToken(caller).auth.scopes).toEqual(['federation:forward']);
  });

  it('throws 403 when the peer may not act for the token’s tenant', async () => {
    expect(await refusal(await eastIssuer().issue({ ...claims, tenantId: 'globex' }))).toEqual({
      status: 403,
      code: 'forbidden',
      message: 'Peer east-1 may not act for tenant globex on this node',
    });
  });

  it('does not burn the token id of a refused token', async () => {
    const token = await eastIssuer().issue({ ...claims, tenantId: 'globex' });
    expect((await refusal(token)).status).toBe(403);
    expect((await refusal(token)).status).toBe(403);
  });

  it('throws 401 for a token of a node this node does not trust', async () => {
    const stranger = createPeerTokenIssuer({ nodeId: 'south-1', key: eastKey, now: () => clock.date() });
    expect(await refusal(await stranger.issue(claims))).toEqual({
      status: 401,
      code: 'unauthorized',
      message: 'The peer token comes from a node this node does not trust',
    });
    expect(fetches).toBe(0);
  });

  it('throws 401 for a token that lives longer than a peer token may', async () => {
    const key = await importJWK(eastKey as JWK, 'ES256');
    const at = Math.floor(clock.now() / 1000);
    const token = await new SignJWT({ tenant_id: 'acme', scope: '', traceparent })
      .setProtectedHeader({ alg: 'ES256', kid: eastKey.kid, typ: peerTokenType })
      .setIssuer('east-1')
      .setAudience('west-1')
      .setSubject('alice')
      .setIssuedAt(at)
      .setNotBefore(at)
      .setExpirationTime(at + 3_600)
      .setJti(crypto.randomUUID())
      .sign(key);
    expect(await refusal(token)).toMatchObject({ status: 401, code: 'unauthorized' });
  });

  it('throws 401 for another kind of token the peer’s key signs (no peer token typ)', async () => {
    const key = await importJWK(eastKey as JWK, 'ES256');
    const at = Math.floor(clock.now() / 1000);
    const token = await new SignJWT({ tenant_id: 'acme', scope: '', traceparent })
      .setProtectedHeader({ alg: 'ES256', kid: eastKey.kid, typ: 'JWT' })
      .setIssuer('east-1')
      .setAudience('west-1')
      .setSubject('alice')
      .setIssuedAt(at)
      .setNotBefore(at)
      .setExpirationTime(at + 60)
      .setJti(crypto.randomUUID())
      .sign(key);
    expect(await refusal(token)).toMatchObject({ status: 401, code: 'unauthorized' });
  });

  it('throws 401 for an unsigned token and for garbage', async () => {
    const header = Buffer.from(
      JSON.stringify({ alg: 'none', typ: peerTokenType, kid: eastKey.kid }),
    ).toString('base64url');
    const at = Math.floor(clock.now() / 1000);
    const body = Buffer.from(
      JSON.stringify({
        iss: 'east-1',
        aud: 'west-1',
        sub: 'a',
        tenant_id: 'acme',
        iat: at,
        nbf: at,
        exp: at + 60,
        jti: 'x',
        traceparent,
      }),
    ).toString('base64url');
    expect(await refusal(`${header}.${body}.`)).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(await refusal('not-a-token')).toMatchObject({ status: 401, code: 'unauthorized' });
  });

  it('throws 503 when the peer’s keys cannot be fetched', async () => {
    const failing = createPeerTokenVerifier({
      nodeId: 'west-1',
      peers: {
        get: async () => ({
          object: 'peer',
          peer_id: 'east-1',
          base_url: 'https://e.example.com',
          jwks_url: jwksUrl,
          tenants: [],
          created_at: clock.date().toISOString(),
          created_by: 'ops',
        }),
      },
      replay: new InMemoryPeerTokenReplay(),
      jwks: createJwksCache({
        fetch: httpJwksFetcher({ fetch: async () => Promise.reject(new Error('ECONNREFUSED')) }),
      }),
      now: () => clock.date(),
    });
    const error = await failing.verify(await eastIssuer().issue(claims)).catch((e: unknown) => e);
    expect(toErrorEnvelope(error, 'c')).toMatchObject({
      status: 503,
      envelope: { error: { code: 'dependency_unavailable' } },
    });
  });

  it('throws when asked to issue a token that lives longer than a peer token may', async () => {
    await expect(eastIssuer().issue({ ...claims, ttlSeconds: 301 })).rejects.toThrow(/1-300 seconds/);
  });
});

describe('the peer key set cache', () => {
  it('returns a cached set until it is old, then fetches it again', async () => {
    let calls = 0;
    const cache = createJwksCache({
      fetch: async () => {
        calls++;
        return { keys: [{ kty: 'EC', kid: 'k1' }] };
      },
      now: () => clock.date(),
      maxAgeSeconds: 300,
    });
    await cache.keysFor('https://a.example.com/jwks', 'k1');
    clock.advance(299_000);
    await cache.keysFor('https://a.example.com/jwks', 'k1');
    expect(calls).toBe(1);
    clock.advance(2_000);
    await cache.keysFor('https://a.example.com/jwks', 'k1');
    expect(calls).toBe(2);
  });

  it('keeps at most maxEntries sets, dropping the least recently used', async () => {
    const fetched: string[] = [];
    const cache = createJwksCache({
      fetch: async (url) => {
        fetched.push(url);
        return { keys: [{ kty: 'EC', kid: 'k' }] };
      },
      now: () => clock.date(),
      maxEntries: 2,
    });
    for (const url of ['https://a/', 'https://b/', 'https://a/', 'https://c/', 'https://a/', 'https://b/'])
      await cache.keysFor(url, 'k');
    expect(fetched).toEqual(['https://a/', 'https://b/', 'https://c/', 'https://b/']);
  });

  it('shares one fetch among concurrent misses of one set', async () => {
    let calls = 0;
    const cache = createJwksCache({
      fetch: async () => {
        calls++;
        return { keys: [] };
      },
    });
    await Promise.all([1, 2, 3].map(() => cache.keysFor('https://a/', 'k')));
    expect(calls).toBe(1);
  });
});

describe('httpJwksFetcher', () => {
  it('returns the set after retrying a 5xx answer once', async () => {
    const answers = [
      new Response('busy', { status: 503 }),
      Response.json({ keys: [{ kty: 'EC', kid: 'k' }] }),
    ];
    const fetcher = httpJwksFetcher({ fetch: async () => answers.shift()! });
    await expect(fetcher('https://a/')).resolves.toEqual({ keys: [{ kty: 'EC', kid: 'k' }] });
    expect(answers).toHaveLength(0);
  });

  it('throws dependency_unavailable after its attempts, and for a body that is no key set', async () => {
    let calls = 0;
    const down = httpJwksFetcher({
      attempts: 2,
      fetch: async () => {
        calls++;
        throw new Error('ECONNRESET');
      },
    });
    await expect(down('https://a/')).rejects.toMatchObject({ code: 'dependency_unavailable' });
    expect(calls).toBe(2);
    const odd = httpJwksFetcher({ fetch: async () => Response.json({ nope: true }) });
    await expect(odd('https://a/')).rejects.toMatchObject({ code: 'dependency_unavailable' });
  });

  it('gives each attempt a timeout signal', async () => {
    const signals: (AbortSignal | null | undefined)[] = [];
    const fetcher = httpJwksFetcher({
      fetch: async (_url, init) => {
        signals.push(init?.signal);
        return Response.json({ keys: [] });
      },
    });
    await fetcher('https://a/');
    expect(signals[0]).toBeInstanceOf(AbortSignal);
  });
});
