import type { JSONWebKeySet } from 'jose';
import { z } from 'zod';
import type { EnvSource } from '../config/env.ts';
import { defineEnvContract, envVar } from '../config/env-contract.ts';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { awsClientConfig } from '../aws/client-config.ts';
import { ConfigurationError, DependencyUnavailableError } from '../errors/agentos-error.ts';
import { createJwtVerifier, defaultMaxTokenLifetimeSeconds } from './jwt-verifier.ts';
import type { JwtVerifier } from './jwt-verifier.ts';
import { parseSigningKeySet, SigningKeySetSchema } from './signing-keys.ts';
import type { SigningKeySet } from './signing-keys.ts';
import { createTokenIssuer } from './token-issuer.ts';
import type { DetachedSigner, IdentifyingTokenIssuer, SigningJwk } from './token-issuer.ts';

const JwkSetSchema = z.object(
  { keys: z.array(z.record(z.string(), z.unknown())) },
  {
    error: 'must be a JWK set ({"keys": [...]})',
  },
);

/** One trusted issuer in `AGENTOS_TRUSTED_ISSUERS`: its `iss` and its keys, inline or by URL. */
const TrustedIssuerSchema = z.union([
  z.strictObject({ issuer: z.string().min(1), jwks_url: z.url({ protocol: /^https?$/ }) }),
  z.strictObject({ issuer: z.string().min(1), jwks: JwkSetSchema }),
]);

/** Every issuer a verifier accepts; at least one, each named once. */
export const TrustedIssuersSchema = z
  .array(TrustedIssuerSchema)
  .min(1, 'must list at least one trusted issuer')
  .max(16)
  .refine((list) => new Set(list.map((entry) => entry.issuer)).size === list.length, {
    error: 'must name each issuer once',
  });

/** What `AGENTOS_TRUSTED_ISSUERS` holds. */
export type TrustedIssuersSetting = z.input<typeof TrustedIssuersSchema>;

/**
 * What a function that verifies callers' tokens reads: the issuers it trusts, each with its own
 * keys (`AGENTOS_TRUSTED_ISSUERS`: the external identity provider and the node itself, HLD §3.3),
 * the audience every token must carry, and the longest token lifetime it accepts
 * (`AGENTOS_JWT_MAX_LIFETIME_SECONDS`, 24 h by default).
 */
export const jwtVerifierEnv = defineEnvContract({
  AGENTOS_TRUSTED_ISSUERS: envVar.json(TrustedIssuersSchema),
  AGENTOS_JWT_AUDIENCE: envVar.string(),
  AGENTOS_JWT_MAX_LIFETIME_SECONDS: envVar.int({ default: defaultMaxTokenLifetimeSeconds, min: 1 }),
});

/**
 * What a function that calls another service on a principal's behalf reads: the node's own issuer
 * and the audience it stamps, and the node's private signing keys, inline in
 * `AGENTOS_SERVICE_SIGNING_KEY` (local mode) or in the Secrets Manager secret
 * `AGENTOS_SERVICE_SIGNING_KEY_SECRET_ARN` (deployed nodes); see signing-keys.ts for the format.
 */
export const serviceTokenEnv = defineEnvContract({
  AGENTOS_NODE_ISSUER: envVar.string(),
  AGENTOS_JWT_AUDIENCE: envVar.string(),
  AGENTOS_SERVICE_SIGNING_KEY: envVar.json(SigningKeySetSchema).optional(),
  AGENTOS_SERVICE_SIGNING_KEY_SECRET_ARN: envVar.optionalString(),
  /**
   * The key to sign with, pinned at deploy to the key the deployment publishes: a rotation written
   * to the secret takes effect only when the new public key is deployed too (first key without it).
   */
  AGENTOS_SERVICE_SIGNING_KID: envVar.optionalString(),
});

function activeKey(set: SigningKeySet, kid: string | undefined): SigningJwk {
  if (kid === undefined) return set.keys[0]!;
  const key = set.keys.find((candidate) => candidate.kid === kid);
  if (key === undefined)
    throw new ConfigurationError(
      `The service signing keys hold no key ${kid}, the one this deployment publishes`,
    );
  return key;
}

/** What the function publishing the node's JWKS reads: the public half of its signing keys. */
export const nodeJwksEnv = defineEnvContract({
  AGENTOS_NODE_JWKS: envVar.json(JwkSetSchema),
});

/** Builds the verifier from {@link jwtVerifierEnv}. */
export function jwtVerifierFromEnv(env: EnvSource = process.env): JwtVerifier {
  const values = jwtVerifierEnv.parse(env);
  return createJwtVerifier({
    issuers: values.AGENTOS_TRUSTED_ISSUERS.map((entry) => ({
      issuer: entry.issuer,
      jwks:
        'jwks_url' in entry
          ? { kind: 'url', url: entry.jwks_url }
          : { kind: 'inline', jwks: entry.jwks as JSONWebKeySet },
    })),
    audience: values.AGENTOS_JWT_AUDIENCE,
    maxLifetimeSeconds: values.AGENTOS_JWT_MAX_LIFETIME_SECONDS,
  });
}

/**
 * The node's active signing key from {@link serviceTokenEnv}: the key itself in local mode, or a
 * loader that reads the Secrets Manager secret (each call reads it; callers load it once).
 */
export function serviceSigningKeyFromEnv(
  env: EnvSource = process.env,
): SigningJwk | (() => Promise<SigningJwk>) {
  const values = serviceTokenEnv.parse(env);
  if (values.AGENTOS_SERVICE_SIGNING_KEY !== undefined)
    return activeKey(values.AGENTOS_SERVICE_SIGNING_KEY, values.AGENTOS_SERVICE_SIGNING_KID);
  const secretArn = values.AGENTOS_SERVICE_SIGNING_KEY_SECRET_ARN;
  if (secretArn === undefined) {
    throw new ConfigurationError(
      `Invalid environment: ${serviceTokenEnv.names.AGENTOS_SERVICE_SIGNING_KEY} or ${serviceTokenEnv.names.AGENTOS_SERVICE_SIGNING_KEY_SECRET_ARN} is required`,
    );
  }
  const clientConfig = awsClientConfig(env);
  let client: SecretsManagerClient | undefined;
  return async () => {
    // Its SDK client loads on the first read, not with the function.
    const { GetSecretValueCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
    client ??= new SecretsManagerClient(clientConfig);
    let secret: string | undefined;
    try {
      secret = (await client.send(new GetSecretValueCommand({ SecretId: secretArn }))).SecretString;
    } catch (cause) {
      throw new DependencyUnavailableError('The service signing key could not be read', { cause });
    }
    if (secret === undefined)
      throw new ConfigurationError('The service signing key secret has no string value');
    return activeKey(
      parseSigningKeySet(secret, 'The service signing key secret'),
      values.AGENTOS_SERVICE_SIGNING_KID,
    );
  };
}

/**
 * Builds the issuer a service uses to call another on a principal's behalf, from
 * {@link serviceTokenEnv}; a key kept in Secrets Manager is read once, on first use.
 */
export function serviceTokenIssuerFromEnv(
  env: EnvSource = process.env,
): IdentifyingTokenIssuer & DetachedSigner {
  const values = serviceTokenEnv.parse(env);
  return createTokenIssuer({
    jwk: serviceSigningKeyFromEnv(env),
    issuer: values.AGENTOS_NODE_ISSUER,
    audience: values.AGENTOS_JWT_AUDIENCE,
  });
}
