import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateEmailIdentityCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runPreflight } from '../../cli/aws/preflight.ts';
import type { PreflightCheck, PreflightResult } from '../../cli/aws/preflight.ts';
import type { RemoteTarget } from '../../cli/aws/target.ts';
import { parseNodeConfig } from '../../cli/config/node-config.ts';
import type { NodeConfig } from '../../cli/config/node-config.ts';
import { startMoto } from '../../cli/local/emulator.ts';
import type { EmulatorHandle } from '../../cli/local/emulator.ts';

/**
 * The AWS target's preflight against a private moto (its SSM bootstrap parameters, SES identities
 * and secrets must not meet other tests'). Each test uses its own region or stage, so none depends
 * on another's writes.
 */
let moto: EmulatorHandle;
let endpoint: string;
const keys = { accessKeyId: 'test', secretAccessKey: 'test' };

beforeAll(async () => {
  moto = await startMoto();
  endpoint = moto.endpoint.replace('127.0.0.1', 'localhost');
});

afterAll(async () => {
  await moto.stop();
});

function emulatorTarget(region: string, stage = 'dev'): RemoteTarget {
  return { kind: 'endpoint', stage, region, endpoint };
}

async function config(values: Record<string, unknown> = {}): Promise<NodeConfig> {
  return parseNodeConfig(values, 'test configuration', await mkdtemp(join(tmpdir(), 'agentos-cfg-')));
}

function check(result: PreflightResult, name: string): PreflightCheck {
  const found = result.checks.find((candidate) => candidate.name === name);
  if (found === undefined)
    throw new Error(`no check "${name}" in ${result.checks.map((c) => c.name).join(', ')}`);
  return found;
}

async function putBootstrapVersion(region: string, version: string): Promise<void> {
  const ssm = new SSMClient({ region, endpoint, credentials: keys });
  await ssm.send(
    new PutParameterCommand({
      Name: '/cdk-bootstrap/hnb659fds/version',
      Value: version,
      Type: 'String',
      Overwrite: true,
    }),
  );
  ssm.destroy();
}

describe('runPreflight: credentials, region and bootstrap', () => {
  it('fails the bootstrap check with the cdk bootstrap command when the region is not bootstrapped', async () => {
    const result = await runPreflight(emulatorTarget('us-west-1'), await config());
    expect(result.account).toBe('123456789012');
    expect(check(result, 'credentials')).toMatchObject({
      outcome: 'ok',
      detail: expect.stringContaining('1234****9012'),
    });
    expect(check(result, 'credentials').detail).not.toContain('123456789012');
    expect(check(result, 'region').outcome).toBe('ok');
    const bootstrap = check(result, 'cdk bootstrap');
    expect(bootstrap.outcome).toBe('failed');
    expect(bootstrap.detail).toContain('/cdk-bootstrap/hnb659fds/version');
    expect(bootstrap.fix).toBe(`AWS_ENDPOINT_URL=${endpoint} npx cdk bootstrap aws://123456789012/us-west-1`);
    expect(result.ok).toBe(false);
  });

  it('returns an ok bootstrap check when the bootstrap version is recent enough', async () => {
    await putBootstrapVersion('us-west-2', '30');
    const result = await runPreflight(emulatorTarget('us-west-2'), await config());
    expect(check(result, 'cdk bootstrap')).toMatchObject({
      outcome: 'ok',
      detail: expect.stringContaining('bootstrap version 30'),
    });
  });

  it('fails the bootstrap check naming both versions when the bootstrap stack is too old', async () => {
    await putBootstrapVersion('eu-west-2', '5');
    const result = await runPreflight(emulatorTarget('eu-west-2'), await config());
    const bootstrap = check(result, 'cdk bootstrap');
    expect(bootstrap.outcome).toBe('failed');
    expect(bootstrap.detail).toContain('bootstrap version 5 is older than 6');
    expect(bootstrap.fix).toContain('cdk bootstrap aws://123456789012/eu-west-2');
  });

  it('fails credentials with the fix and skips the AWS checks when the profile has no credentials', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'agentos-no-aws-'));
    await writeFile(join(empty, 'config'), '');
    await writeFile(join(empty, 'credentials'), '');
    // Nothing for the SDK's credential chain to find, and no instance metadata to ask: it fails
    // while resolving credentials, before any request leaves the machine.
    vi.stubEnv('AWS_CONFIG_FILE', join(empty, 'config'));
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', join(empty, 'credentials'));
    vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
    for (const name of [
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN',
      'AWS_PROFILE',
      'AWS_WEB_IDENTITY_TOKEN_FILE',
      'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
      'AWS_CONTAINER_CREDENTIALS_FULL_URI',
      'AWS_ENDPOINT_URL',
    ])
      vi.stubEnv(name, undefined);
    try {
      const result = await runPreflight(
        { kind: 'aws', stage: 'dev', region: 'us-east-1', profile: 'agentos-no-such-profile' },
        await config(),
      );
      const credentials = check(result, 'credentials');
      expect(credentials.outcome).toBe('failed');
      expect(credentials.detail).toContain('profile "agentos-no-such-profile" has no usable credentials');
      expect(credentials.fix).toContain('aws configure --profile agentos-no-such-profile');
      expect(result.account).toBeUndefined();
      const others = result.checks.filter((c) => !['credentials', 'model catalog'].includes(c.name));
      expect(others.map((c) => c.name)).toEqual([
        'region',
        'cdk bootstrap',
        'bedrock access',
        'ses sender',
        'provider secrets',
      ]);
      for (const other of others) expect(other.outcome).toBe('skipped');
      expect(others.every((c) => c.detail === 'no credentials')).toBe(true);
      expect(result.ok).toBe(false);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('fails the region check with its fix when the region is no AWS region', async () => {
    const result = await runPreflight(emulatorTarget('xx-fake-1'), await config());
    const region = check(result, 'region');
    expect(region.outcome).toBe('failed');
    expect(region.detail).toContain('"xx-fake-1" is not an AWS region');
    expect(region.fix).toContain('pass --region with an AWS region such as us-east-1');
    expect(check(result, 'credentials').outcome).toBe('skipped');
    expect(check(result, 'cdk bootstrap')).toMatchObject({
      outcome: 'skipped',
      detail: 'the region is wrong',
    });
  });
});

describe('runPreflight: provider secrets', () => {
  it('fails each provider secret that is missing or outside the stage prefix, naming the fix', async () => {
    const stage = 'secrets';
    const secrets = new SecretsManagerClient({ region: 'us-east-1', endpoint, credentials: keys });
    await secrets.send(
      new CreateSecretCommand({
        Name: `agentos/${stage}/providers/present`,
        SecretString: '{"api_key":"x"}',
      }),
    );
    secrets.destroy();
    const result = await runPreflight(
      emulatorTarget('us-east-1', stage),
      await config({
        stage,
        provider_secrets: [
          'shared/openai',
          `agentos/${stage}/providers/missing`,
          `agentos/${stage}/providers/present`,
        ],
      }),
    );
    const outside = check(result, 'provider secrets: shared/openai');
    expect(outside.outcome).toBe('failed');
    expect(outside.detail).toContain(`outside agentos/${stage}/providers/`);
    expect(outside.fix).toContain(
      `aws secretsmanager create-secret --name agentos/${stage}/providers/openai`,
    );
    const missing = check(result, `provider secrets: agentos/${stage}/providers/missing`);
    expect(missing.outcome).toBe('failed');
    expect(missing.fix).toContain(
      `aws secretsmanager create-secret --name agentos/${stage}/providers/missing --secret-string file://secret.json --region us-east-1 --endpoint-url ${endpoint}`,
    );
    expect(check(result, `provider secrets: agentos/${stage}/providers/present`).outcome).toBe('ok');
  });

  it('returns a skipped provider secrets check when none is configured', async () => {
    const result = await runPreflight(emulatorTarget('us-east-1'), await config());
    expect(check(result, 'provider secrets').outcome).toBe('skipped');
  });
});

describe('runPreflight: SES sender', () => {
  it('returns ok with a note when the sender has no identity yet', async () => {
    const result = await runPreflight(
      emulatorTarget('us-east-1'),
      await config({ alerts: { sender: 'absent@example.com' } }),
    );
    const ses = check(result, 'ses sender');
    expect(ses.outcome).toBe('ok');
    expect(ses.detail).toContain(
      'no SES identity for absent@example.com yet: agentos up creates it before it deploys',
    );
    expect(ses.detail).toContain(
      'sandbox status not checked: the emulator does not implement SES GetAccount',
    );
  });

  it('returns ok when the sender identity exists', async () => {
    const ses = new SESv2Client({ region: 'us-east-1', endpoint, credentials: keys });
    await ses.send(new CreateEmailIdentityCommand({ EmailIdentity: 'present@example.com' }));
    ses.destroy();
    const result = await runPreflight(
      emulatorTarget('us-east-1'),
      await config({ alerts: { sender: 'present@example.com' } }),
    );
    expect(check(result, 'ses sender')).toMatchObject({
      outcome: 'ok',
      detail: expect.stringContaining('present@example.com is verified for sending'),
    });
  });
});

describe('runPreflight: SMTP relay', () => {
  it('returns the SES check skipped when alerts go through an SMTP relay', async () => {
    const result = await runPreflight(
      emulatorTarget('us-east-1'),
      await config({ alerts: { sender: 'alerts@agentos.local', smtp: { host: 'smtp.example.com' } } }),
    );
    expect(check(result, 'ses sender')).toMatchObject({
      outcome: 'skipped',
      detail: expect.stringContaining('SMTP relay smtp.example.com'),
    });
  });
});

describe('runPreflight: model catalog and Bedrock', () => {
  async function catalogFile(catalog: unknown): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'agentos-catalog-'));
    await writeFile(join(dir, 'catalog.json'), JSON.stringify(catalog));
    return dir;
  }

  const prices = (refs: string[]) => [
    {
      version: 'v1',
      effective_from: '2026-01-01T00:00:00Z',
      prices: Object.fromEntries(refs.map((ref) => [ref, { input_usd_per_mtok: 1, output_usd_per_mtok: 1 }])),
    },
  ];

  it('returns Bedrock model checks skipped when the emulator does not implement model availability', async () => {
    const dir = await catalogFile({
      backends: { bedrock: { kind: 'bedrock', region: 'eu-west-1' } },
      models: { 'bedrock/haiku': { backend: 'bedrock', model: 'anthropic.claude-3-haiku-20240307-v1:0' } },
      price_tables: prices(['bedrock/haiku']),
    });
    const result = await runPreflight(
      emulatorTarget('us-east-1'),
      parseNodeConfig({ model_catalog: 'catalog.json' }, 'test configuration', dir),
    );
    expect(check(result, 'model catalog')).toMatchObject({
      outcome: 'ok',
      detail: expect.stringContaining('1 models (1 on Bedrock)'),
    });
    const bedrock = check(result, 'bedrock access: bedrock/haiku');
    expect(bedrock.outcome).toBe('skipped');
    expect(bedrock.detail).toContain("does not implement Bedrock's GetFoundationModelAvailability");
  });

  it('returns the Bedrock check skipped when the catalog uses no Bedrock models', async () => {
    const dir = await catalogFile({
      backends: { local: { kind: 'local' } },
      models: { 'local/echo': { backend: 'local', model: 'echo' } },
      price_tables: prices(['local/echo']),
    });
    const result = await runPreflight(
      emulatorTarget('us-east-1'),
      parseNodeConfig({ model_catalog: 'catalog.json' }, 'test configuration', dir),
    );
    expect(check(result, 'bedrock access')).toMatchObject({
      outcome: 'skipped',
      detail: 'the catalog uses no Bedrock models',
    });
  });

  it('fails the model catalog naming the field when the catalog is invalid', async () => {
    const dir = await catalogFile({
      backends: {},
      models: { 'bedrock/haiku': { backend: 'bedrock', model: 'x' } },
      price_tables: prices(['bedrock/haiku']),
    });
    const result = await runPreflight(
      emulatorTarget('us-east-1'),
      parseNodeConfig({ model_catalog: 'catalog.json' }, 'test configuration', dir),
    );
    expect(check(result, 'model catalog')).toMatchObject({
      outcome: 'failed',
      detail: expect.stringContaining('models.bedrock/haiku.backend: unknown backend "bedrock"'),
    });
    expect(check(result, 'bedrock access').detail).toBe('the model catalog is invalid');
  });
});
