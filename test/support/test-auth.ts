import { jwtVerifierEnv, nodeJwksEnv, serviceTokenEnv } from '../../functions/shared/auth/auth-config.ts';
import { exportJWK, generateKeyPair } from 'jose';
import type { JSONWebKeySet } from 'jose';
import { defaultTenantScopes } from '../../functions/shared/auth/auth-context.ts';
import { createTokenIssuer, SigningJwkSchema } from '../../functions/shared/auth/token-issuer.ts';
import type { SigningJwk, TokenIssuer } from '../../functions/shared/auth/token-issuer.ts';

/** A signing key, its JWKS and an issuer, as a node would have them. */
export type TestAuth = {
  issuer: string;
  audience: string;
  signingKey: SigningJwk;
  jwks: JSONWebKeySet;
  tokens: TokenIssuer;
  /**
   * A bearer token for `tenantId` with the default tenant scopes (or the given ones); the tenant is
   * registered on the node first when the auth has a registrar (the node refuses unknown tenants).
   */
  token(tenantId: string, options?: { subject?: string; scopes?: string[] }): Promise<string>;
  /** Registers a tenant on the node (no-op without a registrar); `token` does it by itself. */
  registerTenant(tenantId: string): Promise<void>;
  /** The verifier's environment (the node as its only trusted issuer), its published JWKS and the service signing key. */
  env(): Record<string, string>;
};

/** Creates a fresh ES256 key pair and token issuer for a test node. */
export async function createTestAuth(
  issuer = 'https://agentos.test/node',
  audience = 'agentos',
  options: { registerTenant?: (tenantId: string) => Promise<void> } = {},
): Promise<TestAuth> {
  const registerTenant = options.registerTenant ?? (async () => undefined);
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = `test-${crypto.randomUUID().slice(0, 8)}`;
  const signingKey = SigningJwkSchema.parse({ ...(await exportJWK(privateKey)), kid, alg: 'ES256' });
  const jwks: JSONWebKeySet = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] };
  const tokens = createTokenIssuer({ jwk: signingKey, issuer, audience });
  return {
    issuer,
    audience,
    signingKey,
    jwks,
    tokens,
    token: async (tenantId, tokenOptions = {}) => {
      await registerTenant(tenantId);
      return tokens.issue({
        tenantId,
        subject: tokenOptions.subject ?? `user-${tenantId}`,
        scopes: tokenOptions.scopes ?? [...defaultTenantScopes],
        ttlSeconds: 600,
      });
    },
    registerTenant,
    env: () => ({
      ...jwtVerifierEnv.render({
        AGENTOS_TRUSTED_ISSUERS: JSON.stringify([{ issuer, jwks }]),
        AGENTOS_JWT_AUDIENCE: audience,
      }),
      ...nodeJwksEnv.render({ AGENTOS_NODE_JWKS: JSON.stringify(jwks) }),
      ...serviceTokenEnv.render({
        AGENTOS_NODE_ISSUER: issuer,
        AGENTOS_SERVICE_SIGNING_KEY: JSON.stringify(signingKey),
      }),
    }),
  };
}
