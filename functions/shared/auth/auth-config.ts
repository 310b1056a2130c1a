import type { JSONWebKeySet } from 'jose';
import { maybeEnv, requiredEnv } from '../config/env.ts';
import type { EnvSource } from '../config/env.ts';
import { ConfigurationError } from '../errors/agentos-error.ts';
import { createJwtVerifier } from './jwt-verifier.ts';
import type { JwtVerifier } from './jwt-verifier.ts';
import { createTokenIssuer, SigningJwkSchema } from './token-issuer.ts';
import type { TokenIssuer } from './token-issuer.ts';

/** Builds the verifier from `AGENTOS_JWT_ISSUER`, `AGENTOS_JWT_AUDIENCE` and `AGENTOS_JWKS` or `AGENTOS_JWKS_URL`. */
export function jwtVerifierFromEnv(env: EnvSource = process.env): JwtVerifier {
  const issuer = requiredEnv('AGENTOS_JWT_ISSUER', env);
  const audience = requiredEnv('AGENTOS_JWT_AUDIENCE', env);
  const url = maybeEnv('AGENTOS_JWKS_URL', env);
  if (url !== undefined) return createJwtVerifier({ issuer, audience, jwks: { kind: 'url', url } });
  const raw = requiredEnv('AGENTOS_JWKS', env);
  let jwks: JSONWebKeySet;
  try {
    jwks = JSON.parse(raw) as JSONWebKeySet;
  } catch (cause) {
    throw new ConfigurationError('AGENTOS_JWKS is not valid JSON', { cause });
  }
  if (!Array.isArray(jwks.keys))
    throw new ConfigurationError('AGENTOS_JWKS must be a JWK set ({"keys": [...]})');
  return createJwtVerifier({ issuer, audience, jwks: { kind: 'inline', jwks } });
}

/**
 * Builds the issuer a service uses to call another on a principal's behalf, from the node's private
 * signing key in `AGENTOS_SERVICE_SIGNING_KEY` (a JWK).
 */
export function serviceTokenIssuerFromEnv(env: EnvSource = process.env): TokenIssuer {
  const raw = requiredEnv('AGENTOS_SERVICE_SIGNING_KEY', env);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (cause) {
    throw new ConfigurationError('AGENTOS_SERVICE_SIGNING_KEY is not valid JSON', { cause });
  }
  const jwk = SigningJwkSchema.safeParse(parsed);
  if (!jwk.success)
    throw new ConfigurationError('AGENTOS_SERVICE_SIGNING_KEY is not a private JWK with kid and alg');
  return createTokenIssuer({
    jwk: jwk.data,
    issuer: requiredEnv('AGENTOS_JWT_ISSUER', env),
    audience: requiredEnv('AGENTOS_JWT_AUDIENCE', env),
  });
}
