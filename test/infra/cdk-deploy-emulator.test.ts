import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureEmulator, startMoto } from '../../cli/local/emulator.ts';
import { jwtVerifierFromEnv, serviceTokenIssuerFromEnv } from '../../functions/shared/auth/auth-config.ts';
import type { EmulatorHandle } from '../../cli/local/emulator.ts';
import { repositoryRoot } from '../../infra/build/bundle-layout.ts';
import { contextKeys } from '../../infra/config/node-settings.ts';
import { bundlesDirContextKey, nodeStackName } from '../../infra/node-app.ts';
import { functionDefinitions } from '../../infra/resources/definitions.ts';
import type { FunctionName } from '../../infra/resources/definitions.ts';
import { functionEnvironments } from '../../infra/resources/function-environments.ts';
import { runCdk } from './node-template.ts';
import { alertNotifierConfigFromEnv } from '../../functions/alert-notifier/composition/alert-notifier-config.ts';
import {
  modelPolicyEnv,
  settlementWorkerEnv,
} from '../../functions/model-policy/composition/model-policy-config.ts';
import { ensureNodeSigningKeys } from '../../cli/aws/node-signing-keys.ts';
import { operatorClientConfig } from '../../cli/aws/target.ts';

/**
 * The real `cdk bootstrap` and `cdk deploy` of the node stack onto the emulator's CloudFormation
 * (moto, with the resource types it lacks supplied by cli/local/moto_cfn_models.py), then
 * `cdk destroy`. A private emulator: the deployed stack must not meet the shared test node.
 */
/** What each function's composition root builds from the settings the contract leaves either-or. */
const settingsBuilders: Record<FunctionName, (env: Record<string, string>) => unknown> = {
  orchestratorApi: jwtVerifierFromEnv,
  orchestratorEvents: jwtVerifierFromEnv,
  stepWorker: serviceTokenIssuerFromEnv,
  modelPolicyApi: jwtVerifierFromEnv,
  // No either-or setting: its contract alone says what its root reads.
  settlementWorker: (env) => settlementWorkerEnv.parse(env),
  alertNotifier: alertNotifierConfigFromEnv,
};

let moto: EmulatorHandle;
let endpoint: string;
const stack = nodeStackName('main');

/** The CDK CLI with the emulator as its AWS endpoint and test credentials. */
function cdk(args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return runCdk(args, {
    cwd,
    env: {
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL: endpoint,
    },
  });
}

beforeAll(async () => {
  moto = await startMoto();
  // moto reads the template URL the CDK hands it only when addressed by name.
  endpoint = moto.endpoint.replace('127.0.0.1', 'localhost');
  await configureEmulator(endpoint);
});

afterAll(async () => {
  await moto.stop();
});

describe('cdk deploy onto the emulator', () => {
  it(
    'bootstraps, deploys the node stack with every function given its contract, and destroys it',
    { timeout: 240_000 },
    async () => {
      const aws = {
        region: 'us-east-1',
        endpoint,
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      };
      // Bootstrap from a folder without cdk.json, so the CLI does not synthesize the app for it.
      const bootstrap = await cdk(
        ['bootstrap', 'aws://123456789012/us-east-1', '--no-notices', '--no-version-reporting'],
        await mkdtemp(join(tmpdir(), 'agentos-bootstrap-')),
      );
      expect(bootstrap).toMatchObject({ code: 0 });

      const out = await mkdtemp(join(tmpdir(), 'agentos-deploy-'));
      const keys = await ensureNodeSigningKeys(
        operatorClientConfig({ kind: 'endpoint', stage: 'main', region: 'us-east-1', endpoint }),
        'main',
      );
      const context = {
        [bundlesDirContextKey]: join(out, 'functions'),
        [contextKeys.identityProviderIssuer]: 'https://issuer.example.test/',
        [contextKeys.identityProviderJwksUrl]: 'https://issuer.example.test/.well-known/jwks.json',
        [contextKeys.serviceSigningKeySecretArn]: keys.secretArn,
        [contextKeys.nodeJwks]: JSON.stringify(keys.jwks),
      };
      const contextArgs = Object.entries(context).flatMap(([key, value]) => ['--context', `${key}=${value}`]);
      const deploy = await cdk(
        [
          'deploy',
          '--require-approval',
          'never',
          '--no-notices',
          '--no-version-reporting',
          '--output',
          join(out, 'cdk.out'),
          ...contextArgs,
        ],
        repositoryRoot,
      );
      // The whole result, so a failure shows the CLI's output.
      expect(deploy).toMatchObject({ code: 0 });

      const cloudFormation = new CloudFormationClient(aws);
      const [described] =
        (await cloudFormation.send(new DescribeStacksCommand({ StackName: stack }))).Stacks ?? [];
      expect(described?.StackStatus).toBe('CREATE_COMPLETE');
      const outputs = Object.fromEntries((described?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
      expect(outputs).toMatchObject({
        // Named by CloudFormation: a table retained by a deleted node never blocks the next deploy.
        TableName: expect.not.stringMatching(/^agentos-main$/),
        OrchestratorApiUrl: expect.stringMatching(
          /^https:\/\/\w+\.execute-api\.us-east-1\.amazonaws\.com\/prod\/$/,
        ),
        ModelPolicyApiUrl: expect.stringMatching(/\/prod\/$/),
        StepQueueUrl: expect.stringMatching(/agentos-main-steps-[0-9a-f]{8}$/),
        SettlementQueueUrl: expect.stringMatching(/agentos-main-settlements-[0-9a-f]{8}$/),
        SettlementDeadLetterQueueUrl: expect.stringMatching(/agentos-main-settlements-dlq-[0-9a-f]{8}$/),
        ServiceSigningKeySecretArn: expect.stringContaining(':secret:agentos/main/service-signing-key'),
      });

      // Each deployed function holds what its composition root will parse, with the values resolved.
      const functions = (await new LambdaClient(aws).send(new ListFunctionsCommand({}))).Functions ?? [];
      for (const name of Object.keys(functionDefinitions) as FunctionName[]) {
        const deployed = functions.find((f) => f.FunctionName?.includes(`-${name}Function`));
        const environment = deployed?.Environment?.Variables ?? {};
        const required = functionEnvironments[name].required.filter((variable) => variable !== 'AWS_REGION');
        expect(Object.keys(environment)).toEqual(expect.arrayContaining(required));
        const resolved = { ...environment, AWS_REGION: 'us-east-1' };
        expect(() => functionEnvironments[name].parse(resolved)).not.toThrow();
        // The either-or settings (JWKS or its URL; signing key or its secret) as the roots build them.
        expect(() => settingsBuilders[name](resolved)).not.toThrow();
      }
      const worker = functions.find((f) => f.FunctionName?.includes('-stepWorkerFunction'));
      expect(worker?.Environment?.Variables?.['AGENTOS_MODEL_POLICY_URL']).toBe(outputs['ModelPolicyApiUrl']);
      // The Model Policy sends to the queue the settlement worker's event source consumes.
      const gateway = functions.find((f) => f.FunctionName?.includes('-modelPolicyApiFunction'));
      expect(gateway?.Environment?.Variables?.[modelPolicyEnv.names.AGENTOS_SETTLEMENT_QUEUE_URL]).toBe(
        outputs['SettlementQueueUrl'],
      );

      const destroy = await cdk(
        ['destroy', '--force', '--no-notices', '--output', join(out, 'cdk.out'), ...contextArgs],
        repositoryRoot,
      );
      expect(destroy).toMatchObject({ code: 0 });
      const stacks = await cloudFormation.send(new DescribeStacksCommand({ StackName: stack })).then(
        (answer) => answer.Stacks ?? [],
        (error: unknown) => {
          // A stack that is gone is reported as a validation error naming it, as on AWS.
          expect(String(error)).toContain(stack);
          return [];
        },
      );
      expect(stacks.filter((s) => s.StackStatus !== 'DELETE_COMPLETE')).toEqual([]);
    },
  );
});
