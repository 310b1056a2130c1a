import type { JSONWebKeySet } from 'jose';
import { z } from 'zod';
import type { EnvSource } from '../config/env.ts';
import { defineEnvContract, envVar } from '../config/env-contract.ts';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { awsClientConfig } from '../aws/client-config.ts';
import { ConfigurationError, DependencyUnavailableError } from '../errors/agentos-error.ts';
import { createJwtVerifier, defaultMaxTokenLifetimeSeconds } from './jwt-verifier.ts';
import type { JwtVerifier } from './jwt-verifier.ts';
import { createTokenIssuer, SigningJwkSchema } from './token-issuer.ts';
import type { SigningJwk, TokenIssuer } from './token-issuer.ts';

const JwkSetSchema = z.object(
  { keys: z.array(z.record(z.string(), z.unknown())) },
  {
    error: 'must be a JWK set ({"keys": [...]})',
  },
);

/**
 * What a function that verifies callers' tokens reads: the issuer and audience it accepts, the keys
 * (inline `AGENTOS_JWKS`, or fetched from `AGENTOS_JWKS_URL`), and the longest token lifetime it
 * accepts (`AGENTOS_JWT_MAX_LIFETIME_SECONDS`, 24 h by default).
 */
export const jwtVerifierEnv = defineEnvContract({
  AGENTOS_JWT_ISSUER: envVar.string(),
  AGENTOS_JWT_AUDIENCE: envVar.string(),
  AGENTOS_JWKS: envVar.json(JwkSetSchema).optional(),
  AGENTOS_JWKS_URL: envVar.optionalUrl(),
  AGENTOS_JWT_MAX_LIFETIME_SECONDS: envVar.int({ default: defaultMaxTokenLifetimeSeconds, min: 1 }),
});

/**
 * What a function that calls another service on a principal's behalf reads: the issuer and audience
 * it stamps, and the node's private signing key, inline in `AGENTOS_SERVICE_SIGNING_KEY` (local mode)
 * or in the Secrets Manager secret `AGENTOS_SERVICE_SIGNING_KEY_SECRET_ARN` (deployed nodes).
 */
export const serviceTokenEnv = defineEnvContract({
  AGENTOS_JWT_ISSUER: envVar.string(),
  AGENTOS_JWT_AUDIENCE: envVar.string(),
  AGENTOS_SERVICE_SIGNING_KEY: envVar.json(SigningJwkSchema).optional(),
  AGENTOS_SERVICE_SIGNING_KEY_SECRET_ARN: envVar.optionalString(),
});

/** Builds the verifier from {@link jwtVerifierEnv}. */
export function jwtVerifierFromEnv(env: EnvSource = process.env): JwtVerifier {
  const values = jwtVerifierEnv.parse(env);
  const settings = {
    issuer: values.AGENTOS_JWT_ISSUER,
    audience: values.AGENTOS_JWT_AUDIENCE,
    maxLifetimeSeconds: values.AGENTOS_JWT_MAX_LIFETIME_SECONDS,
  };
  if (values.AGENTOS_JWKS_URL !== undefined) {
    return createJwtVerifier({ ...settings, jwks: { kind: 'url', url: values.AGENTOS_JWKS_URL } });
  }
  if (values.AGENTOS_JWKS === undefined) {
    throw new ConfigurationError(
      `Invalid environment: ${jwtVerifierEnv.names.AGENTOS_JWKS} or ${jwtVerifierEnv.names.AGENTOS_JWKS_URL} is required`,
    );
  }
  return createJwtVerifier({
    ...settings,
    jwks: { kind: 'inline', jwks: values.AGENTOS_JWKS as JSONWebKeySet },
  });
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
 * Builds the issuer a service uses to call another on a principal's behalf, from
 * {@link serviceTokenEnv}; a key kept in Secrets Manager is read once, on first use.
 */
export function serviceTokenIssuerFromEnv(env: EnvSource = process.env): TokenIssuer {
  const values = serviceTokenEnv.parse(env);
  const issuer = values.AGENTOS_JWT_ISSUER;
  const audience = values.AGENTOS_JWT_AUDIENCE;
  if (values.AGENTOS_SERVICE_SIGNING_KEY !== undefined) {
    return createTokenIssuer({ jwk: values.AGENTOS_SERVICE_SIGNING_KEY, issuer, audience });
  }
  const secretArn = values.AGENTOS_SERVICE_SIGNING_KEY_SECRET_ARN;
  if (secretArn === undefined) {
    throw new ConfigurationError(
      `Invalid environment: ${serviceTokenEnv.names.AGENTOS_SERVICE_SIGNING_KEY} or ${serviceTokenEnv.names.AGENTOS_SERVICE_SIGNING_KEY_SECRET_ARN} is required`,
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
