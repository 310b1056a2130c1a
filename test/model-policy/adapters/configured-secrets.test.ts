import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfiguredSecrets } from '../../../functions/model-policy/adapters/secrets/configured-secrets.ts';
import { testAwsConfig } from '../../support/aws.ts';

const client = new SecretsManagerClient(testAwsConfig());
const name = `agentos/test/${randomBytes(4).toString('hex')}`;
let secrets: ConfiguredSecrets;

beforeAll(async () => {
  await client.send(
    new CreateSecretCommand({
      Name: name,
      SecretString: JSON.stringify({ api_key: 'sk-from-secrets-manager' }),
    }),
  );
  await client.send(new CreateSecretCommand({ Name: `${name}-plain`, SecretString: 'plain-value' }));
  secrets = new ConfiguredSecrets({ UPSTREAM_KEY: 'from-env' }, () => client);
});

afterAll(() => {
  client.destroy();
});

describe('ConfiguredSecrets', () => {
  it('resolves an environment reference', async () => {
    await expect(secrets.resolve('env:UPSTREAM_KEY')).resolves.toBe('from-env');
  });

  it('resolves a Secrets Manager secret, whole or one JSON field of it', async () => {
    await expect(secrets.resolve(`secretsmanager:${name}-plain`)).resolves.toBe('plain-value');
    await expect(secrets.resolve(`secretsmanager:${name}#api_key`)).resolves.toBe('sk-from-secrets-manager');
  });

  it('throws when a reference points at nothing', async () => {
    await expect(secrets.resolve('env:UNSET_VARIABLE')).rejects.toThrow(/unset variable/);
    await expect(secrets.resolve(`secretsmanager:${name}#missing`)).rejects.toThrow(
      /no string field missing/,
    );
    await expect(secrets.resolve('secretsmanager:agentos/test/does-not-exist')).rejects.toThrow();
  });
});
