import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, CfnWaitConditionHandle, Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { availabilityVerdict, foundationModelId } from '../../cli/aws/preflight-bedrock.ts';
import {
  bootstrapQualifier,
  bootstrapVersionParameter,
  minimumBootstrapVersion,
} from '../../cli/aws/preflight-bootstrap.ts';
import { readCatalog } from '../../cli/aws/preflight-catalog.ts';
import { credentialsFailure, regionNameVerdict, regionPartition } from '../../cli/aws/preflight-identity.ts';
import { providerSecretPrefix, providerSecrets } from '../../cli/aws/preflight-secrets.ts';
import {
  awsCliCommand,
  cdkBootstrapCommand,
  maskAccount,
  maskIdentifiers,
  shellWord,
} from '../../cli/aws/preflight-text.ts';
import type { RemoteTarget } from '../../cli/aws/target.ts';
import { nodeSecretNames } from '../../infra/stacks/agentos-node-stack.ts';

const aws: RemoteTarget = { kind: 'aws', stage: 'dev', region: 'eu-west-1', profile: 'ops' };
const emulator: RemoteTarget = {
  kind: 'endpoint',
  stage: 'dev',
  region: 'us-east-1',
  endpoint: 'http://localhost:4566',
};

async function tempFile(name: string, text: string): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'agentos-preflight-')), name);
  await writeFile(file, text);
  return file;
}

describe('preflight text', () => {
  it('returns the account with its middle digits masked', () => {
    expect(maskAccount('123456789012')).toBe('1234****9012');
    expect(maskAccount('not-an-account')).toBe('****');
  });

  it('returns error text with account ids and access key ids masked', () => {
    expect(
      maskIdentifiers(
        'User: arn:aws:iam::123456789012:user/ops is not authorized (key AKIAIOSFODNN7EXAMPLE)',
      ),
    ).toBe('User: arn:aws:iam::1234****9012:user/ops is not authorized (key AKIA****)');
  });

  it('returns the cdk bootstrap command with the profile, or the emulator endpoint before it', () => {
    expect(cdkBootstrapCommand(aws, '123456789012', 'hnb659fds')).toBe(
      'npx cdk bootstrap aws://123456789012/eu-west-1 --profile ops',
    );
    expect(cdkBootstrapCommand(emulator, '123456789012', 'custom1')).toBe(
      'AWS_ENDPOINT_URL=http://localhost:4566 npx cdk bootstrap aws://123456789012/us-east-1 --qualifier custom1',
    );
  });

  it('returns AWS CLI commands aimed at the target, quoting what the shell would split', () => {
    expect(awsCliCommand(aws, 'sesv2', 'get-account')).toBe(
      'aws sesv2 get-account --region eu-west-1 --profile ops',
    );
    expect(awsCliCommand(emulator, 'secretsmanager', 'describe-secret', '--secret-id', "it's")).toBe(
      `aws secretsmanager describe-secret --secret-id 'it'\\''s' --region us-east-1 --endpoint-url http://localhost:4566`,
    );
    expect(shellWord('a b')).toBe("'a b'");
  });
});

describe('preflight region and credentials', () => {
  it('returns the partition of every kind of AWS region name', () => {
    expect(regionPartition('eu-west-1')?.id).toBe('aws');
    expect(regionPartition('cn-north-1')?.id).toBe('aws-cn');
    expect(regionPartition('us-gov-west-1')?.id).toBe('aws-us-gov');
    expect(regionPartition('us-isob-east-1')?.id).toBe('aws-iso-b');
  });

  it('fails the region when its name belongs to no AWS partition', () => {
    const verdict = regionNameVerdict({ ...emulator, region: 'xx-fake-1' });
    expect(verdict).toMatchObject({ outcome: 'failed', detail: expect.stringContaining('"xx-fake-1"') });
    expect(verdict.fix).toContain('--region');
  });

  it('fails credentials with `aws sso login --profile` when the SSO session expired', () => {
    const verdict = credentialsFailure(aws, {
      name: 'CredentialsProviderError',
      message: 'The SSO session associated with this profile has expired or is otherwise invalid.',
    });
    expect(verdict.fix).toBe('aws sso login --profile ops');
  });

  it('fails credentials with a renewal when the session token expired', () => {
    const verdict = credentialsFailure(aws, {
      name: 'ExpiredToken',
      message: 'The security token included in the request is expired',
      status: 403,
    });
    expect(verdict.detail).toContain('expired');
    expect(verdict.fix).toContain('aws sso login --profile ops');
  });

  it('fails credentials with `aws configure` when the access key is invalid', () => {
    const verdict = credentialsFailure(
      { kind: 'aws', stage: 'dev', region: 'eu-west-1' },
      {
        name: 'InvalidClientTokenId',
        message: 'The security token included in the request is invalid.',
        status: 403,
      },
    );
    expect(verdict.fix).toBe('`aws configure` with a valid access key pair');
  });
});

describe('preflight bootstrap and catalog', () => {
  it('returns the bootstrap version the installed aws-cdk-lib requires', async () => {
    const app = new App({ outdir: await mkdtemp(join(tmpdir(), 'agentos-synth-')) });
    // One resource keeps the template valid; what matters is the artifact's requirement.
    new CfnWaitConditionHandle(new Stack(app, 'Probe'), 'Placeholder');
    const artifact = app.synth().getStackByName('Probe');
    expect(artifact.requiresBootstrapStackVersion).toBe(minimumBootstrapVersion);
    expect(artifact.bootstrapStackVersionSsmParameter).toBe(bootstrapVersionParameter('hnb659fds'));
  });

  it('returns the qualifier cdk.json sets, and the default without one', async () => {
    const custom = await tempFile(
      'cdk.json',
      JSON.stringify({ context: { '@aws-cdk/core:bootstrapQualifier': 'team42' } }),
    );
    expect(await bootstrapQualifier(custom)).toBe('team42');
    expect(await bootstrapQualifier(await tempFile('cdk.json', '{"app":"x"}'))).toBe('hnb659fds');
  });

  it('fails the catalog naming the field when a model names an unknown backend', async () => {
    const file = await tempFile(
      'catalog.json',
      JSON.stringify({
        backends: {},
        models: { 'bedrock/x': { backend: 'nope', model: 'x' } },
        price_tables: [
          {
            version: 'v1',
            effective_from: '2026-01-01T00:00:00Z',
            prices: { 'bedrock/x': { input_usd_per_mtok: 1, output_usd_per_mtok: 1 } },
          },
        ],
      }),
    );
    const { verdict } = await readCatalog(file);
    expect(verdict.outcome).toBe('failed');
    expect(verdict.detail).toContain('models.bedrock/x.backend: unknown backend "nope"');
    expect(verdict.fix).toBe(`correct models.bedrock/x.backend in ${file}`);
  });
});

describe('preflight bedrock and secrets', () => {
  const entry = {
    ref: 'bedrock/haiku',
    backendId: 'bedrock',
    modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
    region: 'eu-west-1',
    ownCredentials: false,
  };

  it('returns the foundation model behind an inference profile or ARN', () => {
    expect(foundationModelId('eu.anthropic.claude-3-haiku-20240307-v1:0')?.id).toBe(
      'anthropic.claude-3-haiku-20240307-v1:0',
    );
    expect(foundationModelId('arn:aws:bedrock:eu-west-1::foundation-model/amazon.nova-lite-v1:0')?.id).toBe(
      'amazon.nova-lite-v1:0',
    );
    expect(foundationModelId('arn:aws:bedrock:eu-west-1:123456789012:provisioned-model/abc')).toBeUndefined();
  });

  it('fails model access with the console page when the entitlement is missing', () => {
    const verdict = availabilityVerdict(
      entry,
      { id: entry.modelId },
      {
        regionAvailability: 'AVAILABLE',
        authorizationStatus: 'AUTHORIZED',
        entitlementAvailability: 'NOT_AVAILABLE',
        agreementAvailability: { status: 'AVAILABLE' },
      },
      '/cfg/catalog.json',
      aws,
    );
    expect(verdict).toMatchObject({ outcome: 'failed', detail: expect.stringContaining('not granted') });
    expect(verdict.fix).toContain('https://eu-west-1.console.aws.amazon.com/bedrock/home?region=eu-west-1');
  });

  it('fails model access naming the catalog field when the region does not offer the model', () => {
    const verdict = availabilityVerdict(
      entry,
      { id: entry.modelId },
      { regionAvailability: 'NOT_AVAILABLE' },
      '/cfg/catalog.json',
      aws,
    );
    expect(verdict.fix).toContain('backends.bedrock.region in /cfg/catalog.json');
  });

  it('returns model access when every availability says so', () => {
    const verdict = availabilityVerdict(
      entry,
      { id: entry.modelId },
      {
        regionAvailability: 'AVAILABLE',
        authorizationStatus: 'AUTHORIZED',
        entitlementAvailability: 'AVAILABLE',
        agreementAvailability: { status: 'AVAILABLE' },
      },
      '/cfg/catalog.json',
      aws,
    );
    expect(verdict.outcome).toBe('ok');
  });

  it('returns the prefix the stack lets the gateway read', () => {
    expect(providerSecretPrefix('dev')).toBe(nodeSecretNames('dev').providerCredentialsPrefix);
  });

  it('returns each provider secret once, with every place that names it', () => {
    expect(
      providerSecrets(
        ['agentos/dev/providers/openai'],
        [{ secret: 'agentos/dev/providers/openai', field: 'backends.openai.api_key' }],
      ),
    ).toEqual([
      {
        secret: 'agentos/dev/providers/openai',
        sources: ['provider_secrets', 'catalog backends.openai.api_key'],
      },
    ]);
  });
});
