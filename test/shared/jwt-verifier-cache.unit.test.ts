import { afterEach, describe, expect, it, vi } from 'vitest';
import { generateSigningKey, publicJwks } from '../../functions/shared/auth/signing-keys.ts';
import { createJwtVerifier, verifiedTokenCacheMs } from '../../functions/shared/auth/jwt-verifier.ts';
import { createTokenIssuer } from '../../functions/shared/auth/token-issuer.ts';

const audience = 'agentos';
const issuer = 'https://node.example.test/prod';
const claims = { tenantId: 'acme', subject: 'user-1', scopes: ['runs:read'] };

async function setUp(ttlSeconds = 3600) {
  const key = await generateSigningKey('node');
  const verifier = createJwtVerifier({
    issuers: [{ issuer, jwks: { kind: 'inline', jwks: publicJwks({ keys: [key] }) } }],
    audience,
  });
  const token = await createTokenIssuer({ jwk: key, issuer, audience }).issue({ ...claims, ttlSeconds });
  return { verifier, token };
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('verified tokens', () => {
  it('checks the signature of a token presented again only once', async () => {
    const { verifier, token } = await setUp();
    const checks = vi.spyOn(crypto.subtle, 'verify');
    const first = await verifier.verifyToken(token);
    const again = await verifier.verifyToken(token);
    expect(again).toEqual(first);
    expect(checks).toHaveBeenCalledTimes(1);
  });

  it('throws unauthorized for a token presented again after it expired', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { verifier, token } = await setUp(30);
    expect(await verifier.verify(token)).toMatchObject({ tenant_id: 'acme' });
    // Past `exp` and the verifier's clock tolerance.
    vi.setSystemTime(Date.now() + 40_000);
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it('checks the signature again once a verification has stood for its longest time', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { verifier, token } = await setUp();
    const checks = vi.spyOn(crypto.subtle, 'verify');
    await verifier.verify(token);
    vi.setSystemTime(Date.now() + verifiedTokenCacheMs + 1);
    await verifier.verify(token);
    expect(checks).toHaveBeenCalledTimes(2);
  });

  it('throws unauthorized when a token verified for the node is presented for one resource', async () => {
    const { verifier, token } = await setUp();
    await verifier.verifyToken(token);
    await expect(verifier.verifyToken(token, { resource: '/runs/r-1' })).rejects.toMatchObject({
      code: 'unauthorized',
    });
  });

  it('throws when a caller changes the Auth Context another caller of the same token gets', async () => {
    const { verifier, token } = await setUp();
    await verifier.verify(token);
    const shared = await verifier.verify(token);
    expect(() => {
      (shared as { tenant_id: string }).tenant_id = 'other';
    }).toThrow(TypeError);
    expect((await verifier.verify(token)).tenant_id).toBe('acme');
  });
});
