import { createHmac } from 'node:crypto';
import { exportSPKI, generateKeyPair, importJWK, SignJWT } from 'jose';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrchestratorApi } from '../support/orchestrator-api-only.ts';

type Api = Awaited<ReturnType<typeof startOrchestratorApi>>;
let api: Api;

const claims = { tenant_id: 'acme', scope: 'runs:read runs:write' };

async function signWithNodeKey(
  payload: Record<string, unknown>,
  options: { issuer?: string; audience?: string; expiresAt?: number | string; withoutIat?: boolean } = {},
) {
  const key = await importJWK(api.auth.signingKey as JWK, 'ES256');
  const jwt = new SignJWT(payload)
    .setProtectedHeader({ alg: 'ES256', kid: api.auth.signingKey.kid })
    .setIssuer(options.issuer ?? api.auth.issuer)
    .setAudience(options.audience ?? api.auth.audience)
    .setSubject('user-1')
    .setExpirationTime(options.expiresAt ?? '10m');
  return (options.withoutIat === true ? jwt : jwt.setIssuedAt()).sign(key);
}

function base64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

function unsignedPayload() {
  const now = Math.floor(Date.now() / 1000);
  return { ...claims, sub: 'user-1', iss: api.auth.issuer, aud: api.auth.audience, iat: now, exp: now + 600 };
}

async function getRunWith(authorization: string | undefined) {
  const response = await fetch(`${api.url}/v1/runs/run_${'0'.repeat(26)}`, {
    headers: authorization === undefined ? {} : { authorization },
  });
  return {
    status: response.status,
    body: (await response.json()) as { error: { code: string; message: string } },
  };
}

beforeAll(async () => {
  api = await startOrchestratorApi();
  await api.auth.registerTenant(claims.tenant_id);
});

afterAll(async () => {
  await api.close();
});

describe('JWT authentication', () => {
  it('accepts a valid token (the run simply does not exist)', async () => {
    const answer = await getRunWith(`Bearer ${await signWithNodeKey(claims)}`);
    expect(answer.status).toBe(404);
  });

  it('accepts a token that lives exactly the longest lifetime allowed (24 hours)', async () => {
    const answer = await getRunWith(`Bearer ${await signWithNodeKey(claims, { expiresAt: '24h' })}`);
    expect(answer.status).toBe(404);
  });

  const rejected: [string, () => Promise<string | undefined>][] = [
    ['no Authorization header', async () => undefined],
    ['a non-bearer scheme', async () => `Basic ${base64url('user:pass')}`],
    [
      'an expired token',
      async () =>
        `Bearer ${await signWithNodeKey(claims, { expiresAt: Math.floor(Date.now() / 1000) - 3600 })}`,
    ],
    ['a wrong audience', async () => `Bearer ${await signWithNodeKey(claims, { audience: 'someone-else' })}`],
    [
      'a wrong issuer',
      async () => `Bearer ${await signWithNodeKey(claims, { issuer: 'https://evil.example' })}`,
    ],
    [
      'alg none',
      async () => `Bearer ${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(unsignedPayload())}.`,
    ],
    [
      'HS256 signed with the public key',
      async () => {
        const publicJwk = api.auth.jwks.keys[0]!;
        const pem = await exportSPKI(
          (await importJWK(publicJwk, 'ES256')) as Parameters<typeof exportSPKI>[0],
        );
        const header = base64url({ alg: 'HS256', typ: 'JWT', kid: publicJwk.kid });
        const body = base64url(unsignedPayload());
        const signature = createHmac('sha256', pem).update(`${header}.${body}`).digest('base64url');
        return `Bearer ${header}.${body}.${signature}`;
      },
    ],
    [
      'an unknown kid',
      async () => {
        const { privateKey } = await generateKeyPair('ES256', { extractable: true });
        const token = await new SignJWT(claims)
          .setProtectedHeader({ alg: 'ES256', kid: 'unknown-kid' })
          .setIssuer(api.auth.issuer)
          .setAudience(api.auth.audience)
          .setSubject('user-1')
          .setExpirationTime('10m')
          .sign(privateKey);
        return `Bearer ${token}`;
      },
    ],
    [
      'the right kid but another key',
      async () => {
        const { privateKey } = await generateKeyPair('ES256', { extractable: true });
        const token = await new SignJWT(claims)
          .setProtectedHeader({ alg: 'ES256', kid: api.auth.signingKey.kid })
          .setIssuer(api.auth.issuer)
          .setAudience(api.auth.audience)
          .setSubject('user-1')
          .setExpirationTime('10m')
          .sign(privateKey);
        return `Bearer ${token}`;
      },
    ],
    ['a missing tenant', async () => `Bearer ${await signWithNodeKey({ scope: claims.scope })}`],
    [
      'a malformed tenant',
      async () => `Bearer ${await signWithNodeKey({ ...claims, tenant_id: '../other' })}`,
    ],
    [
      'a tampered payload',
      async () => {
        const token = await signWithNodeKey(claims);
        const [header, , signature] = token.split('.');
        return `Bearer ${header}.${base64url({ ...unsignedPayload(), tenant_id: 'globex' })}.${signature}`;
      },
    ],
    ['garbage', async () => 'Bearer not.a.jwt'],
    [
      'a token that lives 100 years',
      async () => `Bearer ${await signWithNodeKey(claims, { expiresAt: '100y' })}`,
    ],
    [
      'a 100-year token without iat',
      async () => `Bearer ${await signWithNodeKey(claims, { expiresAt: '100y', withoutIat: true })}`,
    ],
  ];

  it.each(rejected)('answers 401 unauthorized for %s', async (_name, authorization) => {
    const answer = await getRunWith(await authorization());
    expect(answer.status).toBe(401);
    expect(answer.body.error.code).toBe('unauthorized');
  });

  it('answers 403 forbidden when a valid token lacks the route scope', async () => {
    const token = await signWithNodeKey({ tenant_id: 'acme', scope: 'runs:read' });
    const response = await fetch(`${api.url}/v1/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: { code: 'forbidden' } });
  });

  it('serves health without a token', async () => {
    const response = await fetch(`${api.url}/v1/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok', service: 'agent-orchestrator' });
  });
});
