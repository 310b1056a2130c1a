import type { JSONWebKeySet } from 'jose';
import { intEnv, maybeEnv, requiredEnv } from '../config/env.ts';
import type { EnvSource } from '../config/env.ts';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { awsClientConfig } from '../aws/client-config.ts';
import { ConfigurationError, DependencyUnavailableError } from '../errors/agentos-error.ts';
import { createJwtVerifier, defaultMaxTokenLifetimeSeconds } from './jwt-verifier.ts';
import type { JwtVerifier } from './jwt-verifier.ts';
import { createTokenIssuer, SigningJwkSchema } from './token-issuer.ts';
import type { SigningJwk, TokenIssuer } from './token-issuer.ts';

/**
 * Builds the verifier from `AGENTOS_JWT_ISSUER`, `AGENTOS_JWT_AUDIENCE`, `AGENTOS_JWKS` or
 * `AGENTOS_JWKS_URL`, and `AGENTOS_JWT_MAX_LIFETIME_SECONDS` (the longest token lifetime accepted).
 */
export function jwtVerifierFromEnv(env: EnvSource = process.env): JwtVerifier {
  const issuer = requiredEnv('AGENTOS_JWT_ISSUER', env);
  const audience = requiredEnv('AGENTOS_JWT_AUDIENCE', env);
  const maxLifetimeSeconds = intEnv('AGENTOS_JWT_MAX_LIFETIME_SECONDS', defaultMaxTokenLifetimeSeconds, env);
  if (maxLifetimeSeconds === 0) {
    throw new ConfigurationError('AGENTOS_JWT_MAX_LIFETIME_SECONDS must be at least 1');
  }
  const url = maybeEnv('AGENTOS_JWKS_URL', env);
  if (url !== undefined) {
    return createJwtVerifier({ issuer, audience, maxLifetimeSeconds, jwks: { kind: 'url', url } });
  }
  const raw = requiredEnv('AGENTOS_JWKS', env);
  let jwks: JSONWebKeySet;
  try {
    jwks = JSON.parse(raw) as JSONWebKeySet;
  } catch (cause) {
    throw new ConfigurationError('AGENTOS_JWKS is not valid JSON', { cause });
  }
  if (!Array.isArray(jwks.keys))
    throw new ConfigurationError('AGENTOS_JWKS must be a JWK set ({"keys": [...]})');
  return createJwtVerifier({ issuer, audience, maxLifetimeSeconds, jwks: { kind: 'inline', jwks } });
}

function parseSigningJwk(raw: string, source: string): SigningJwk {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (cause) {
    throw new ConfigurationError(`${source} is not valid JSON`, { cause });
  }
  const jwk = SigningJwkSchema.safeParse(parsed);
  if (!jwk.success) throw new ConfigurationError(`${source} is not a private JWK with kid and alg`);
  return jwk.data;
}

/**
 * Builds the issuer a service uses to call another on a principal's behalf, with the node's private
 * signing key: inline in `AGENTOS_SERVICE_SIGNING_KEY` (local mode), or in the Secrets Manager secret
 * named by `AGENTOS_SERVICE_SIGNING_KEY_SECRET_ARN` (deployed nodes), read once on first use.
 */
export function serviceTokenIssuerFromEnv(env: EnvSource = process.env): TokenIssuer {
  const issuer = requiredEnv('AGENTOS_JWT_ISSUER', env);
  const audience = requiredEnv('AGENTOS_JWT_AUDIENCE', env);
  const inline = maybeEnv('AGENTOS_SERVICE_SIGNING_KEY', env);
  if (inline !== undefined) {
    return createTokenIssuer({
      jwk: parseSigningJwk(inline, 'AGENTOS_SERVICE_SIGNING_KEY'),
      issuer,
      audience,
    });
  }
  const secretArn = maybeEnv('AGENTOS_SERVICE_SIGNING_KEY_SECRET_ARN', env);
  if (secretArn === undefined) {
    throw new ConfigurationError(
      'Missing required environment variable AGENTOS_SERVICE_SIGNING_KEY or AGENTOS_SERVICE_SIGNING_KEY_SECRET_ARN',
    );
  }
  const client = new SecretsManagerClient(awsClientConfig(env));
  return createTokenIssuer({
    issuer,
    audience,
    jwk: async () => {
      let secret: string | undefined;
      try {
        secret = (await client.send(new GetSecretValueCommand({ SecretId: secretArn }))).SecretString;
      } catch (cause) {
        throw new DependencyUnavailableError('The service signing key could not be read', { cause });
      }
      if (secret === undefined)
        throw new ConfigurationError('The service signing key secret has no string value');
      return parseSigningJwk(secret, 'The service signing key secret');
    },
  });
}
