import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jwtVerifierFromEnv, serviceTokenIssuerFromEnv } from '../../functions/shared/auth/auth-config.ts';
import {
  generateSigningKey,
  parseSigningKeySet,
  publicJwks,
  retireOldKeys,
  rotateKeySet,
} from '../../functions/shared/auth/signing-keys.ts';
import type { SigningKeySet } from '../../functions/shared/auth/signing-keys.ts';
import { createTokenIssuer } from '../../functions/shared/auth/token-issuer.ts';
import { jwksHandler } from '../../functions/shared/http/jwks-route.ts';
import type { SigningJwk } from '../../functions/shared/auth/token-issuer.ts';

const audience = 'agentos';
const idpIssuer = 'https://idp.example.test/';
const nodeIssuer = 'https://node.example.test/prod';
const claims = { tenantId: 'acme', subject: 'user-1', scopes: ['runs:read'], ttlSeconds: 60 };

let idpKey: SigningJwk;
let jwksServer: ReturnType<typeof createServer>;
let idpJwksUrl: string;

beforeAll(async () => {
  idpKey = await generateSigningKey('idp');
  // The external identity provider publishes its keys over HTTP, as a real one does.
  jwksServer = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(publicJwks({ keys: [idpKey] })));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  idpJwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
});

afterAll(async () => {
  await new Promise((resolve) => jwksServer.close(resolve));
});

function verifierTrusting(nodeSet: SigningKeySet) {
  return jwtVerifierFromEnv({
    AGENTOS_TRUSTED_ISSUERS: JSON.stringify([
      { issuer: idpIssuer, jwks_url: idpJwksUrl },
      { issuer: nodeIssuer, jwks: publicJwks(nodeSet) },
    ]),
    AGENTOS_JWT_AUDIENCE: audience,
  });
}

function nodeSigner(set: SigningKeySet, kid?: string) {
  return serviceTokenIssuerFromEnv({
    AGENTOS_NODE_ISSUER: nodeIssuer,
    AGENTOS_JWT_AUDIENCE: audience,
    AGENTOS_SERVICE_SIGNING_KEY: JSON.stringify(set),
    ...(kid === undefined ? {} : { AGENTOS_SERVICE_SIGNING_KID: kid }),
  });
}

describe('trusted issuers', () => {
  it('accepts tokens of the identity provider (keys by URL) and of the node itself (keys inline)', async () => {
    const nodeSet = { keys: [await generateSigningKey('node')] };
    const verifier = verifierTrusting(nodeSet);
    const user = await createTokenIssuer({ jwk: idpKey, issuer: idpIssuer, audience }).issue(claims);
    const service = await nodeSigner(nodeSet).issue({ ...claims, actor: 'agent-orchestrator' });
    expect(await verifier.verify(user)).toMatchObject({ tenant_id: 'acme', principal: { type: 'user' } });
    expect(await verifier.verify(service)).toMatchObject({
      tenant_id: 'acme',
      principal: { type: 'service' },
    });
  });

  it('throws unauthorized when a token names the node as issuer but is signed with the provider key', async () => {
    const verifier = verifierTrusting({ keys: [await generateSigningKey('node')] });
    // Each issuer is checked only with its own keys: a valid key of one issuer never vouches for another.
    const forged = await createTokenIssuer({ jwk: idpKey, issuer: nodeIssuer, audience }).issue(claims);
    await expect(verifier.verify(forged)).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it('throws unauthorized when the issuer is not trusted, or the token is not a JWT', async () => {
    const verifier = verifierTrusting({ keys: [await generateSigningKey('node')] });
    const stranger = await createTokenIssuer({
      jwk: await generateSigningKey('other'),
      issuer: 'https://other.example.test/',
      audience,
    }).issue(claims);
    await expect(verifier.verify(stranger)).rejects.toThrow('does not trust');
    await expect(verifier.verify('not-a-jwt')).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it('throws when the trusted issuers are missing, empty or name an issuer twice', () => {
    const read = (value: string | undefined) => () =>
      jwtVerifierFromEnv({
        AGENTOS_JWT_AUDIENCE: audience,
        ...(value === undefined ? {} : { AGENTOS_TRUSTED_ISSUERS: value }),
      });
    expect(read(undefined)).toThrow('AGENTOS_TRUSTED_ISSUERS');
    expect(read('[]')).toThrow('at least one');
    const twice = { issuer: idpIssuer, jwks_url: 'https://idp.example.test/jwks' };
    expect(read(JSON.stringify([twice, twice]))).toThrow('each issuer once');
  });
});

describe('signing key rotation', () => {
  it('keeps tokens of the previous key verifying after a rotation, and stops them once it is retired', async () => {
    const first: SigningKeySet = { keys: [await generateSigningKey('node')] };
    const oldToken = await nodeSigner(first).issue(claims);
    const rotated = rotateKeySet(first, await generateSigningKey('node'));
    expect(rotated.keys.map((key) => key.kid)).toEqual([rotated.keys[0]!.kid, first.keys[0]!.kid]);
    const newToken = await nodeSigner(rotated).issue(claims);
    const during = verifierTrusting(rotated);
    expect(await during.verify(oldToken)).toMatchObject({ tenant_id: 'acme' });
    expect(await during.verify(newToken)).toMatchObject({ tenant_id: 'acme' });
    const after = verifierTrusting(retireOldKeys(rotated));
    await expect(after.verify(oldToken)).rejects.toMatchObject({ code: 'unauthorized' });
    expect(await after.verify(newToken)).toMatchObject({ tenant_id: 'acme' });
  });

  it('signs with the pinned key, and throws when the pinned key is not in the set', async () => {
    const first: SigningKeySet = { keys: [await generateSigningKey('node')] };
    const rotated = rotateKeySet(first, await generateSigningKey('node'));
    // Pinned to the key the running deployment publishes, a rotated secret changes nothing yet.
    const token = await nodeSigner(rotated, first.keys[0]!.kid).issue(claims);
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid).toBe(
      first.keys[0]!.kid,
    );
    expect(() => nodeSigner(first, 'missing-kid')).toThrow('missing-kid');
  });

  it('publishes no private member, and reads a bare JWK as a set of one', async () => {
    const key = await generateSigningKey('node');
    const published = JSON.stringify(publicJwks({ keys: [key] }));
    expect(published).not.toContain('"d"');
    expect(parseSigningKeySet(JSON.stringify(key), 'the secret').keys).toHaveLength(1);
    expect(() => parseSigningKeySet('{"keys":[]}', 'the secret')).toThrow('the secret is not a private JWK');
    expect(() => parseSigningKeySet('password123', 'the secret')).toThrow('not valid JSON');
  });
});

describe('node JWKS route', () => {
  it('publishes the public keys with a cache lifetime, and throws when handed a private member', async () => {
    const key = await generateSigningKey('node');
    const answer = await jwksHandler(publicJwks({ keys: [key] }))({} as never);
    expect(answer).toMatchObject({ status: 200, headers: { 'cache-control': 'public, max-age=300' } });
    expect(JSON.stringify(answer)).not.toContain('"d"');
    expect(() => jwksHandler({ keys: [{ ...key }] })).toThrow('private key member');
  });

  it('throws unauthorized when a token names the identity provider but is signed with the node key', async () => {
    const nodeSet = { keys: [await generateSigningKey('node')] };
    const verifier = verifierTrusting(nodeSet);
    const forged = await createTokenIssuer({ jwk: nodeSet.keys[0]!, issuer: idpIssuer, audience }).issue(
      claims,
    );
    await expect(verifier.verify(forged)).rejects.toMatchObject({ code: 'unauthorized' });
  });
});
