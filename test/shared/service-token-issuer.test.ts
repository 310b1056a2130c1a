import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { serviceTokenIssuerFromEnv } from '../../functions/shared/auth/auth-config.ts';
import { createJwtVerifier } from '../../functions/shared/auth/jwt-verifier.ts';
import { testAwsConfig } from '../support/aws.ts';
import { createTestAuth } from '../support/test-auth.ts';

async function mintWith(env: Record<string, string>) {
  return serviceTokenIssuerFromEnv({ ...process.env, ...env }).issue({
    tenantId: 'acme',
    subject: 'user-1',
    scopes: ['models:invoke'],
    actor: 'agent-orchestrator',
    ttlSeconds: 60,
  });
}

describe('service token issuer', () => {
  it('signs with the key in the Secrets Manager secret a deployed node names', async () => {
    const auth = await createTestAuth();
    const sm = new SecretsManagerClient(testAwsConfig());
    const secret = await sm.send(
      new CreateSecretCommand({
        Name: `agentos/test/${crypto.randomUUID()}`,
        SecretString: JSON.stringify(auth.signingKey),
      }),
    );
    const token = await mintWith({
      AGENTOS_NODE_ISSUER: auth.issuer,
      AGENTOS_JWT_AUDIENCE: auth.audience,
      AGENTOS_SERVICE_SIGNING_KEY: '',
      AGENTOS_SERVICE_SIGNING_KEY_SECRET_ARN: secret.ARN ?? '',
    });
    const verifier = createJwtVerifier({
      issuers: [{ issuer: auth.issuer, jwks: { kind: 'inline', jwks: auth.jwks } }],
      audience: auth.audience,
    });
    expect(await verifier.verify(token)).toEqual({
      tenant_id: 'acme',
      principal: { id: 'user-1', type: 'service' },
      scopes: ['models:invoke'],
      policy_context: {},
    });
  });

  it('throws dependency_unavailable when the secret cannot be read, and names both settings when neither is set', async () => {
    const auth = await createTestAuth();
    const base = {
      AGENTOS_NODE_ISSUER: auth.issuer,
      AGENTOS_JWT_AUDIENCE: auth.audience,
      AGENTOS_SERVICE_SIGNING_KEY: '',
    };
    await expect(
      mintWith({ ...base, AGENTOS_SERVICE_SIGNING_KEY_SECRET_ARN: 'agentos/missing-secret' }),
    ).rejects.toMatchObject({
      code: 'dependency_unavailable',
    });
    await expect(mintWith({ ...base, AGENTOS_SERVICE_SIGNING_KEY_SECRET_ARN: '' })).rejects.toThrow(
      /AGENTOS_SERVICE_SIGNING_KEY or AGENTOS_SERVICE_SIGNING_KEY_SECRET_ARN/,
    );
  });
});
