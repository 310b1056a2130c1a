import { exportJWK, generateKeyPair } from 'jose';
import type { JSONWebKeySet, JWK } from 'jose';
import { z } from 'zod';
import { ConfigurationError } from '../errors/agentos-error.ts';
import { SigningJwkSchema } from './token-issuer.ts';
import type { SigningJwk } from './token-issuer.ts';

/**
 * A node's signing keys, newest first: the first signs, and every one stays published (and so
 * verifies) until it is retired. Rotation puts a new key in front and keeps the previous one for
 * the overlap in which tokens it signed are still alive.
 */
export const SigningKeySetSchema = z.preprocess(
  // A bare private JWK, as earlier nodes stored it, is a set of one.
  (value) => (typeof value === 'object' && value !== null && !('keys' in value) ? { keys: [value] } : value),
  z.object({ keys: z.array(SigningJwkSchema).min(1).max(4) }),
);

/** A validated signing key set; `keys[0]` is the active key. */
export type SigningKeySet = z.output<typeof SigningKeySetSchema>;

/** The JWK members that are private (EC, RSA and symmetric): never published. */
export const privateJwkMembers: readonly string[] = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** The public half of each key, as a JWKS to publish and to verify with. */
export function publicJwks(set: SigningKeySet): JSONWebKeySet {
  return {
    keys: set.keys.map(
      (key) =>
        Object.fromEntries(
          Object.entries({ ...key, use: 'sig' }).filter(([member]) => !privateJwkMembers.includes(member)),
        ) as JWK,
    ),
  };
}

/** A new ES256 signing key whose `kid` starts with `prefix` and tells when it was made. */
export async function generateSigningKey(prefix: string, now: Date = new Date()): Promise<SigningJwk> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = `${prefix}-${now.toISOString().slice(0, 10)}-${crypto.randomUUID().slice(0, 8)}`;
  return SigningJwkSchema.parse({ ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' });
}

/** The set with `key` active and the previously active key kept for the overlap (older ones dropped). */
export function rotateKeySet(set: SigningKeySet, key: SigningJwk): SigningKeySet {
  return { keys: [key, set.keys[0]!] };
}

/** The set with only its active key: tokens signed by the retired ones stop verifying. */
export function retireOldKeys(set: SigningKeySet): SigningKeySet {
  return { keys: [set.keys[0]!] };
}

/** Parses a stored key set (JSON text), throwing a message that names `source` but never a key. */
export function parseSigningKeySet(text: string, source: string): SigningKeySet {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ConfigurationError(`${source} is not valid JSON`, { cause });
  }
  const parsed = SigningKeySetSchema.safeParse(value);
  if (!parsed.success)
    throw new ConfigurationError(
      `${source} is not a private JWK or a set of them ({"keys": [...]}, each with kid and alg)`,
    );
  return parsed.data;
}
