import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import type { JSONWebKeySet } from 'jose';
import { SigningJwkSchema } from '../../functions/shared/auth/token-issuer.ts';
import type { SigningJwk } from '../../functions/shared/auth/token-issuer.ts';

/** A node's token signing key pair: the private JWK (local mode only) and the public JWKS. */
export type NodeKeys = { signingKey: SigningJwk; jwks: JSONWebKeySet };

/**
 * Loads the node's ES256 signing key, creating it on first use. The private key never leaves the
 * node's state directory (mode 0600).
 */
export async function ensureNodeKeys(keyDir: string): Promise<NodeKeys> {
  const privatePath = join(keyDir, 'signing-key.json');
  const publicPath = join(keyDir, 'jwks.json');
  if (existsSync(privatePath) && existsSync(publicPath)) {
    const signingKey = SigningJwkSchema.parse(JSON.parse(await readFile(privatePath, 'utf8')));
    const jwks = JSON.parse(await readFile(publicPath, 'utf8')) as JSONWebKeySet;
    return { signingKey, jwks };
  }
  await mkdir(keyDir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = `local-${new Date().toISOString().slice(0, 10)}-${crypto.randomUUID().slice(0, 8)}`;
  const signingKey = SigningJwkSchema.parse({
    ...(await exportJWK(privateKey)),
    kid,
    alg: 'ES256',
    use: 'sig',
  });
  const jwks: JSONWebKeySet = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] };
  await writeFile(privatePath, JSON.stringify(signingKey, null, 2), { mode: 0o600 });
  await writeFile(publicPath, JSON.stringify(jwks, null, 2), { mode: 0o644 });
  return { signingKey, jwks };
}
