import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { LambdaClient, ListEventSourceMappingsCommand } from '@aws-sdk/client-lambda';
import { PurgeQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startArtifactHost } from '../../cli/aws/artifact-host.ts';
import type { ArtifactHost } from '../../cli/aws/artifact-host.ts';
import { deployedClientConfig } from '../../cli/aws/deployed-aws.ts';
import type { DeployedAwsSettings } from '../../cli/aws/deployed-aws.ts';
import { EnvironmentConflictError, sharedEnvironment } from '../../cli/aws/deployed-environment.ts';
import { declaredRoutes, routeLines } from '../../cli/aws/deployed-routes.ts';
import { extractZip, lambdaPackageLimits } from '../../cli/aws/deployed-zip.ts';
import { ensureNodeSigningKeys } from '../../cli/aws/node-signing-keys.ts';
import { operatorClientConfig } from '../../cli/aws/target.ts';
import { AgentOsClient } from '../../cli/client/agentos-client.ts';
import { configureEmulator, startMoto } from '../../cli/local/emulator.ts';
import type { EmulatorHandle } from '../../cli/local/emulator.ts';
import { motoServerCommand } from '../../cli/local/project-paths.ts';
import { registerTenants, seedTenantCatalog } from '../../cli/local/seed.ts';
import { repositoryRoot } from '../../infra/build/bundle-layout.ts';
import { contextKeys } from '../../infra/config/node-settings.ts';
import { bundlesDirContextKey, nodeStackName } from '../../infra/node-app.ts';
import { functionDefinitions } from '../../infra/resources/definitions.ts';
import type { FunctionName } from '../../infra/resources/definitions.ts';
import { scriptedInput, waitForRun } from '../support/run-events.ts';
import { createTestAuth } from '../support/test-auth.ts';
import type { TestAuth } from '../support/test-auth.ts';
import { runCdk } from './node-template.ts';
import { settleThroughQueue } from '../support/queued-settlements.ts';

/**
 * A node stack deployed onto a private emulator with `cdk deploy`, then run on this machine by the
 * artifact host from what was deployed: the code packages in the CDK asset bucket, the functions'
 * environments as Lambda holds them, the routes of the deployed REST APIs.
 */
const stackName = nodeStackName('main');
const functionNames = Object.keys(functionDefinitions) as FunctionName[];

let moto: EmulatorHandle;
let aws: DeployedAwsSettings;
let jwksServer: Server;
let auth: TestAuth;
let cacheDir: string;
let outputs: Record<string, string>;
let host: ArtifactHost;

/** Serves the identity provider's public keys, so the deployed verifiers accept its users' tokens. */
async function serveJwks(): Promise<string> {
  jwksServer = createServer((_, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(auth.jwks));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
}

async function deploy(jwksUrl: string): Promise<void> {
  const env = {
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: aws.region,
    AWS_ENDPOINT_URL: aws.endpoint ?? '',
  };
  // From a folder without cdk.json, so the CLI does not synthesize the app for the bootstrap.
  const bootstrap = await runCdk(
    ['bootstrap', 'aws://123456789012/us-east-1', '--no-notices', '--no-version-reporting'],
    { cwd: await mkdtemp(join(tmpdir(), 'agentos-bootstrap-')), env },
  );
  if (bootstrap.code !== 0) throw new Error(`cdk bootstrap failed:\n${bootstrap.output}`);
  const out = await mkdtemp(join(tmpdir(), 'agentos-deploy-'));
  // The node's own signing keys, made before the deploy as `agentos up` makes them.
  const keys = await ensureNodeSigningKeys(
    operatorClientConfig({ kind: 'endpoint', stage: 'main', region: aws.region, endpoint: aws.endpoint! }),
    'main',
  );
  const context = {
    [bundlesDirContextKey]: join(out, 'functions'),
    [contextKeys.audience]: auth.audience,
    [contextKeys.identityProviderIssuer]: auth.issuer,
    [contextKeys.identityProviderJwksUrl]: jwksUrl,
    [contextKeys.serviceSigningKeySecretArn]: keys.secretArn,
    [contextKeys.nodeJwks]: JSON.stringify(keys.jwks),
  };
  const deployed = await runCdk(
    [
      'deploy',
      '--require-approval',
      'never',
      '--no-notices',
      '--no-version-reporting',
      '--output',
      join(out, 'cdk.out'),
      ...Object.entries(context).flatMap(([key, value]) => ['--context', `${key}=${value}`]),
    ],
    { cwd: repositoryRoot, env },
  );
  if (deployed.code !== 0) throw new Error(`cdk deploy failed:\n${deployed.output}`);
}

beforeAll(async () => {
  // Users' tokens come from an external identity provider the node is deployed to trust.
  auth = await createTestAuth('https://idp.example.test/', 'agentos');
  const jwksUrl = await serveJwks();
  moto = await startMoto();
  // moto reads the template URL the CDK hands it only when addressed by name.
  aws = {
    region: 'us-east-1',
    endpoint: moto.endpoint.replace('127.0.0.1', 'localhost'),
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  };
  await configureEmulator(aws.endpoint!);
  await deploy(jwksUrl);
  const cloudFormation = new CloudFormationClient(deployedClientConfig(aws));
  const [stack] =
    (await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks ?? [];
  cloudFormation.destroy();
  outputs = Object.fromEntries((stack?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  cacheDir = await mkdtemp(join(tmpdir(), 'agentos-artifacts-'));
  host = await startArtifactHost({ stackName, aws, cacheDir });
}, 240_000);

afterAll(async () => {
  await host?.stop();
  await moto?.stop();
  await new Promise((resolve) => jwksServer?.close(resolve));
});

describe('the artifact host of a deployed node stack', () => {
  it('answers /v1/health on both local fronts from the deployed, unpacked bundles', async () => {
    for (const [url, service] of [
      [host.orchestratorUrl, 'agent-orchestrator'],
      [host.modelPolicyUrl, 'model-policy'],
    ] as const) {
      const response = await fetch(`${url}/v1/health`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ status: 'ok', service });
    }
    for (const name of functionNames) {
      const hosted = host.functions[name];
      // The module imported is the one unpacked from the package the function was deployed with.
      expect(hosted.modulePath.startsWith(join(cacheDir, ''))).toBe(true);
      expect(hosted.modulePath.startsWith(hosted.codeDirectory)).toBe(true);
      expect(hosted.downloaded?.zipBytes).toBeGreaterThan(0);
      expect(hosted.source.bucket).toBe('cdk-hnb659fds-assets-123456789012-us-east-1');
      expect(hosted.functionName).toContain(`${name}Function`);
    }
  });

  it('serves the routes the deployed REST APIs hold, which match infra/resources/definitions.ts', () => {
    for (const api of ['orchestrator', 'modelPolicy'] as const) {
      expect(host.routes[api].source).toBe('deployed');
      expect(routeLines(host.routes[api].routes)).toEqual(routeLines(declaredRoutes(api)));
    }
    expect(host.notes.join('\n')).not.toContain('no integration');
  });

  it('shares the deployed environments, the worker calling the local Model Policy front', async () => {
    // Runs' events URLs start at the local Orchestrator front, where a browser reaches them.
    const publicApiUrl = (fn: 'orchestratorApi' | 'orchestratorEvents') => ({
      function: fn,
      variable: 'AGENTOS_PUBLIC_API_URL',
      from: outputs['NodeIssuer'],
      to: host.orchestratorUrl,
    });
    expect(host.environment.rewritten).toEqual([
      publicApiUrl('orchestratorApi'),
      publicApiUrl('orchestratorEvents'),
      {
        function: 'stepWorker',
        variable: 'AGENTOS_MODEL_POLICY_URL',
        from: outputs['ModelPolicyApiUrl'],
        to: `${host.modelPolicyUrl}/`,
      },
    ]);
    expect(process.env['AGENTOS_MODEL_POLICY_URL']).toBe(`${host.modelPolicyUrl}/`);
    expect(process.env['AGENTOS_PUBLIC_API_URL']).toBe(host.orchestratorUrl);
    // The node's issuer is its deployed Orchestrator URL, and stays so: it is compared, not called.
    expect(process.env['AGENTOS_NODE_ISSUER']).toBe(outputs['NodeIssuer']);
    expect(host.environment.kept.map((k) => `${k.function} ${k.variable}`).sort()).toEqual([
      'modelPolicyApi AGENTOS_TRUSTED_ISSUERS',
      'orchestratorApi AGENTOS_NODE_ISSUER',
      'orchestratorApi AGENTOS_TRUSTED_ISSUERS',
      'orchestratorEvents AGENTOS_NODE_ISSUER',
      'orchestratorEvents AGENTOS_TRUSTED_ISSUERS',
      'stepWorker AGENTOS_NODE_ISSUER',
    ]);
    expect(process.env['AGENTOS_AWS_ENDPOINT']).toBe(aws.endpoint);
    expect(host.environment.functionScoped).toEqual(['POWERTOOLS_SERVICE_NAME']);
    // The host polls the step and deadline queues in place of the deployed mappings, which it paused.
    const lambda = new LambdaClient(deployedClientConfig(aws));
    const mappings = await lambda.send(
      new ListEventSourceMappingsCommand({ FunctionName: host.functions.stepWorker.functionName }),
    );
    lambda.destroy();
    expect(mappings.EventSourceMappings?.map((m) => m.State)).toEqual(['Disabled', 'Disabled']);
  });

  it('runs the deployed settlement worker on the settlement queue, in place of its paused mapping', async () => {
    const lambda = new LambdaClient(deployedClientConfig(aws));
    const mappings = await lambda.send(
      new ListEventSourceMappingsCommand({ FunctionName: host.functions.settlementWorker.functionName }),
    );
    lambda.destroy();
    expect(mappings.EventSourceMappings?.map((m) => m.State)).toEqual(['Disabled']);
    // The host's poller hands a queued settlement to the deployed worker, which writes it.
    expect(
      await settleThroughQueue(
        deployedClientConfig(aws),
        outputs['SettlementQueueUrl']!,
        outputs['TableName']!,
        'queued-tenant',
      ),
    ).toEqual({ left: 0, outcomes: ['failed'] });
  });

  it('returns the deepest deployed DLQ’s depth on the node’s dashboard and /metrics, the settlement queue’s included', async () => {
    // The dashboard samples every 5 s; a point carries the DLQs' depth once they were read.
    const deadLetters = async (want: number) => {
      let seen: unknown = null;
      for (let attempt = 0; attempt < 40 && seen !== want; attempt += 1) {
        const data = (await (await fetch(`${host.orchestratorUrl}/dashboard/data.json`)).json()) as {
          points: { values: Record<string, unknown> }[];
        };
        seen = data.points.at(-1)?.values['dead_letters'] ?? null;
        if (seen !== want) await new Promise((resolve) => setTimeout(resolve, 500));
      }
      return seen;
    };
    expect(await deadLetters(0)).toBe(0);
    const sqs = new SQSClient(deployedClientConfig(aws));
    const queueUrl = outputs['SettlementDeadLetterQueueUrl']!;
    try {
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'dead-lettered settlement' }));
      expect(await deadLetters(1)).toBe(1);
      // The queue sampler's gauge, sampled every 5 s as the dashboard is.
      let gauge: string | undefined;
      for (let attempt = 0; attempt < 40 && gauge !== '1'; attempt += 1) {
        const text = await (await fetch(`${host.orchestratorUrl}/metrics`)).text();
        gauge = /^DeadLetterQueueDepth\{[^}]*\} (\S+)$/m.exec(text)?.[1];
        if (gauge !== '1') await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(gauge).toBe('1');
    } finally {
      await sqs.send(new PurgeQueueCommand({ QueueUrl: queueUrl }));
      sqs.destroy();
    }
  });

  it('runs a run to completion through the deployed functions', async () => {
    await seedTenantCatalog({
      aws: deployedClientConfig(aws),
      tableName: outputs['TableName']!,
      tenantId: 'acme',
      adminPrincipal: 'admin-acme',
    });
    await registerTenants({
      aws: deployedClientConfig(aws),
      tableName: outputs['TableName']!,
      tenantIds: ['acme'],
      by: 'test',
    });
    const client = new AgentOsClient(host.orchestratorUrl, await auth.token('acme'));
    const created = await client.createRun(scriptedInput('sample-agent', [{ reply: 'deployed done' }]));
    expect(created.status).toBe(201);
    const run = await waitForRun<{ status: string; output?: unknown; error?: unknown }>(
      client,
      created.body.run_id,
      (r) => ['completed', 'failed', 'canceled'].includes(r.status),
    );
    expect(run).toMatchObject({
      status: 'completed',
      output: { message: { role: 'assistant', content: 'deployed done' } },
    });
  });

  it('runs as a background process that writes a ready file and stops on SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agentos-artifact-host-'));
    const settingsPath = join(dir, 'settings.json');
    const readyPath = join(dir, 'ready.json');
    await writeFile(
      settingsPath,
      JSON.stringify({
        stackName,
        region: aws.region,
        endpoint: aws.endpoint,
        credentials: aws.credentials,
        cacheDir,
      }),
    );
    const child = spawn(
      process.execPath,
      [join(repositoryRoot, 'cli/aws/artifact-host-main.ts'), settingsPath, readyPath],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      while (!existsSync(readyPath)) {
        const code = await Promise.race([exited, new Promise((r) => setTimeout(r, 100, 'waiting'))]);
        if (code !== 'waiting') throw new Error(`the host exited with ${String(code)}: ${stderr}`);
      }
      const ready = z
        .object({
          pid: z.number(),
          orchestrator_url: z.string(),
          model_policy_url: z.string(),
          functions: z.record(z.string(), z.object({ module_path: z.string() })),
        })
        .parse(JSON.parse(await readFile(readyPath, 'utf8')));
      expect(ready.pid).toBe(child.pid);
      for (const url of [ready.orchestrator_url, ready.model_policy_url])
        expect((await fetch(`${url}/v1/health`)).status).toBe(200);
      // Same cache: the packages unpacked by the first host are used again.
      expect(ready.functions['stepWorker']?.module_path).toBe(host.functions.stepWorker.modulePath);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });

  it('refuses to host functions that need one variable to hold different values', () => {
    const environments = Object.fromEntries(functionNames.map((name) => [name, {}])) as Record<
      FunctionName,
      Record<string, string>
    >;
    environments.orchestratorApi = { AGENTOS_TABLE_NAME: 'agentos-a' };
    environments.modelPolicyApi = { AGENTOS_TABLE_NAME: 'agentos-b' };
    expect(() => sharedEnvironment(environments, {}, [])).toThrow(EnvironmentConflictError);
    expect(() => sharedEnvironment(environments, {}, [])).toThrow(
      /AGENTOS_TABLE_NAME: "agentos-a" \(orchestratorApi\) vs "agentos-b" \(modelPolicyApi\)/,
    );
  });

  it('refuses a deployment package with an entry outside the package', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agentos-zip-'));
    const zipPath = join(dir, 'evil.zip');
    const python = spawnSync(motoServerCommand().command, [
      '-c',
      'import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:\n' +
        '  z.writestr("index.mjs", "export const handler = () => 1;")\n  z.writestr("../evil.mjs", "x")',
      zipPath,
    ]);
    expect(python.status).toBe(0);
    const destination = join(dir, 'out');
    await expect(extractZip(await readFile(zipPath), destination, lambdaPackageLimits)).rejects.toThrow(
      /climbs out of the package/,
    );
    expect(existsSync(join(dir, 'evil.mjs'))).toBe(false);
  });
});
