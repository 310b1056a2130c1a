import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentOsClient } from '../../cli/client/agentos-client.ts';
import { timeThreeStepRun } from '../../cli/client/three-step-run.ts';
import { configureEmulator, startMoto } from '../../cli/local/emulator.ts';
import type { EmulatorHandle } from '../../cli/local/emulator.ts';
import { defaultTenantScopes } from '../../functions/shared/auth/auth-context.ts';
import { generateSigningKey, publicJwks } from '../../functions/shared/auth/signing-keys.ts';
import { createTokenIssuer } from '../../functions/shared/auth/token-issuer.ts';
import type { SigningJwk } from '../../functions/shared/auth/token-issuer.ts';
import { defaultModelCatalog } from '../../functions/model-policy/composition/default-catalog.ts';

/**
 * The operator's AWS path, end to end, on a private emulator as a new operator would run it:
 * `agentos up --endpoint` bootstraps, deploys the real stack with `cdk deploy`, and serves what was
 * deployed (moto runs no Lambda: the artifact host runs the published bundles with the environment
 * CloudFormation resolved); an external identity provider is configured, so user tokens come from it
 * and the node's service tokens from the node itself. Then validate, status, redeploy (a catalog
 * change, a key rotation), token, nuke (refused, then done), up again, and nuke --delete-data.
 */
const run = promisify(execFile);
const cli = new URL('../../cli/bin/agentos.ts', import.meta.url).pathname;
const stage = 'e2e';
const idpIssuer = 'https://idp.e2e.test/';

let moto: EmulatorHandle;
let endpoint: string;
let stateDir: string;
let reportsDir: string;
let configDir: string;
let idp: Server;
let idpKey: SigningJwk;

const aws = () => ({
  region: 'us-east-1',
  endpoint,
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});

async function agentos(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AGENTOS_STATE_DIR: stateDir,
    AGENTOS_REPORTS_DIR: reportsDir,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
  };
  delete env['AGENTOS_AWS_ENDPOINT'];
  delete env['AWS_ENDPOINT_URL'];
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args], { env, timeout: 240_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failure.code ?? 1, stdout: failure.stdout ?? '', stderr: failure.stderr ?? '' };
  }
}

function target(): string[] {
  return ['--endpoint', endpoint, '--config', join(configDir, 'agentos.config.json')];
}

type Report = {
  outcome: string;
  phases: { name: string; outcome: string }[];
  endpoints: Record<string, string>;
  health: { name: string; outcome: string; detail: string }[];
  smoke: { name: string; outcome: string }[];
  notes: string[];
};

/** The newest report of an action. */
async function latestReport(action: string): Promise<Report> {
  const files = (await readdir(reportsDir)).filter((f) => f.startsWith(`${action}-`) && f.endsWith('.json'));
  const newest = files.sort().at(-1);
  if (newest === undefined) throw new Error(`no ${action} report`);
  return JSON.parse(await readFile(join(reportsDir, newest), 'utf8')) as Report;
}

async function writeConfig(extraModels: Record<string, unknown> = {}): Promise<void> {
  const catalog = structuredClone(defaultModelCatalog) as unknown as {
    models: Record<string, unknown>;
    price_tables: { prices: Record<string, unknown> }[];
  };
  const prices = catalog.price_tables[0]!.prices;
  for (const [ref, model] of Object.entries(extraModels)) {
    catalog.models[ref] = model;
    prices[ref] = { input_usd_per_mtok: 0, output_usd_per_mtok: 0 };
  }
  await writeFile(join(configDir, 'catalog.json'), JSON.stringify(catalog));
  await writeFile(
    join(configDir, 'agentos.config.json'),
    JSON.stringify({
      stage,
      identity_provider: { issuer: idpIssuer, jwks_url: `${idpUrl()}/jwks.json` },
      model_catalog: 'catalog.json',
      retention: { log_days: 7 },
    }),
  );
}

function idpUrl(): string {
  return `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
}

/** A user token from the external identity provider. */
function idpToken(): Promise<string> {
  return createTokenIssuer({ jwk: idpKey, issuer: idpIssuer, audience: 'agentos' }).issue({
    tenantId: 'default',
    subject: 'alice@idp',
    scopes: [...defaultTenantScopes],
    ttlSeconds: 600,
  });
}

async function stackExists(): Promise<boolean> {
  const cloudFormation = new CloudFormationClient(aws());
  try {
    const answer = await cloudFormation.send(new DescribeStacksCommand({ StackName: `AgentOS-${stage}` }));
    return (answer.Stacks ?? []).some((s) => s.StackStatus !== 'DELETE_COMPLETE');
  } catch (error) {
    if (String(error).includes('does not exist')) return false;
    throw error;
  } finally {
    cloudFormation.destroy();
  }
}

beforeAll(async () => {
  moto = await startMoto();
  endpoint = moto.endpoint.replace('127.0.0.1', 'localhost');
  await configureEmulator(endpoint);
  stateDir = await mkdtemp(join(tmpdir(), 'agentos-aws-state-'));
  reportsDir = await mkdtemp(join(tmpdir(), 'agentos-aws-reports-'));
  configDir = await mkdtemp(join(tmpdir(), 'agentos-aws-config-'));
  idpKey = await generateSigningKey('idp');
  idp = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(publicJwks({ keys: [idpKey] })));
  });
  await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
  await writeConfig();
});

afterAll(async () => {
  await agentos('nuke', ...target(), '--yes', '--delete-data');
  await moto.stop();
  await new Promise((resolve) => idp.close(resolve));
  for (const dir of [stateDir, reportsDir, configDir]) await rm(dir, { recursive: true, force: true });
});

describe('agentos against an AWS endpoint (the embedded emulator)', { timeout: 300_000 }, () => {
  let orchestrator: string;
  let nodeToken: string;

  it('up stops at preflight without a CDK bootstrap, naming the command, with the account masked', async () => {
    const up = await agentos('up', ...target());
    expect(up.code).toBe(1);
    const report = await latestReport('up');
    expect(report.outcome).toBe('red');
    expect(report.notes.join('\n')).toContain('cdk bootstrap aws://1234****9012/us-east-1');
    expect(JSON.stringify(report)).not.toContain('123456789012');
    expect(await stackExists()).toBe(false);
  });

  it('up bootstraps, deploys the stack, serves the deployed artifacts and ends with a green report', async () => {
    const up = await agentos('up', ...target(), '--bootstrap');
    // The whole result, so a failure shows the CLI's output.
    expect(up).toMatchObject({ code: 0 });
    const report = await latestReport('up');
    expect(report.outcome).toBe('green');
    expect(report.phases.map((p) => [p.name, p.outcome])).toEqual([
      ['preflight', 'ok'],
      ['boot', 'ok'],
      ['endpoints', 'ok'],
      ['seed', 'ok'],
      ['wire', 'ok'],
      ['validate', 'ok'],
      ['report', 'ok'],
    ]);
    expect(report.endpoints).toMatchObject({
      account: '1234****9012',
      stack: `AgentOS-${stage}`,
      node_issuer: expect.stringMatching(/^https:\/\/\w+\.execute-api\.us-east-1\.amazonaws\.com\/prod$/),
    });
    expect(report.health.map((c) => c.name)).toEqual(expect.arrayContaining(['node JWKS published']));
    expect(report.smoke.every((c) => c.outcome === 'ok')).toBe(true);
    expect(report.notes.join('\n')).toContain('served on this machine by the artifact host');
    // No key material or full account in what the operator keeps.
    const text = JSON.stringify(report);
    expect(text).not.toMatch(/"d":/);
    expect(text).not.toContain('123456789012');
    orchestrator = report.endpoints['orchestrator']!;
  });

  it('runs a run started with an identity provider token to completion through the deployed artifacts', async () => {
    // The user's token comes from the external provider; the worker's call to the Model Policy
    // carries a service token the node signs as itself, which the Model Policy must trust.
    const client = new AgentOsClient(orchestrator, await idpToken());
    const timed = await timeThreeStepRun(client, 'sample-agent', 'idp');
    expect(timed.status).toBe('completed');
    const stranger = createTokenIssuer({
      jwk: await generateSigningKey('stranger'),
      issuer: idpIssuer,
      audience: 'agentos',
    });
    const forged = new AgentOsClient(
      orchestrator,
      await stranger.issue({
        tenantId: 'default',
        subject: 'mallory',
        scopes: ['runs:read'],
        ttlSeconds: 60,
      }),
    );
    expect((await forged.getRun(timed.runId)).status).toBe(401);
  });

  it('validate and status answer green, and token mints a token the node accepts', async () => {
    expect(await agentos('validate', ...target())).toMatchObject({ code: 0 });
    expect((await latestReport('validate')).outcome).toBe('green');
    const status = await agentos('status', ...target());
    expect(status).toMatchObject({ code: 0 });
    expect(status.stdout).toMatch(/step queue \(agentos-e2e-steps-[0-9a-f]{8}: \d+ waiting/);
    expect(status.stdout).toMatch(
      /settlement dead-letter queue \(agentos-e2e-settlements-dlq-[0-9a-f]{8}: 0 waiting, 0 in flight/,
    );
    expect(status.stdout).toContain('artifact host (pid');
    const token = await agentos('token', ...target(), '--tenant', 'default');
    expect(token.code).toBe(0);
    nodeToken = token.stdout.trim();
    const answer = await fetch(`${orchestrator}/v1/runs/run_00000000000000000000000000`, {
      headers: { authorization: `Bearer ${nodeToken}` },
    });
    expect(answer.status).toBe(404);
  });

  it('validate --test-alert sets an alarm the deployed notifier mails through SES, and the report names the message id', async () => {
    const result = await agentos('validate', ...target(), '--test-alert');
    // The whole output on failure: it names the phase and why.
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    const report = (await latestReport('validate')) as Report & {
      alert_test: { outcome: string; detail: string };
    };
    expect(report.alert_test).toMatchObject({
      outcome: 'ok',
      detail: expect.stringMatching(
        /^test alert [0-9a-f-]{36}: alarm agentos-e2e-\S+ set to ALARM .*message id \S+/,
      ),
    });
    const testId = /^test alert ([0-9a-f-]{36})/.exec(report.alert_test.detail)?.[1] ?? 'missing';
    const data = (await (await fetch(`${endpoint}/moto-api/data.json`)).json()) as {
      ses?: { RawMessage?: { raw_data: string; destinations: string[] }[] };
    };
    const mails = (data.ses?.RawMessage ?? []).filter((mail) => mail.raw_data.includes(testId));
    expect(mails).toHaveLength(1);
    expect(mails[0]?.raw_data).toContain(`[TEST] [AgentOS ${stage}] test_alert on node ${stage}`);
    expect(mails[0]?.destinations).toContain('alerts@agentos.local');
    // A second test alert is sent too: the dedup never swallows a test.
    expect(await agentos('validate', ...target(), '--test-alert')).toMatchObject({ code: 0 });
  });

  it('agents, tools and runs commands answer from the deployed node, as JSON with --json', async () => {
    const agents = await agentos('agents', 'list', ...target(), '--json');
    expect(agents.code).toBe(0);
    expect(
      (JSON.parse(agents.stdout) as { data: { agent_id: string }[] }).data.map((a) => a.agent_id),
    ).toContain('sample-agent');
    const tools = await agentos('tools', 'get', 'http_fetch', ...target(), '--json');
    expect(JSON.parse(tools.stdout)).toMatchObject({ kind: 'builtin', tool_id: 'http_fetch' });
    const runs = await agentos('runs', 'list', ...target(), '--status', 'completed', '--json');
    const [latest] = (JSON.parse(runs.stdout) as { data: { run_id: string }[] }).data;
    expect(latest).toBeDefined();
    const steps = await agentos('runs', 'steps', latest!.run_id, ...target(), '--json');
    expect((JSON.parse(steps.stdout) as { data: { status: string }[] }).data.length).toBeGreaterThan(0);
  });

  it('redeploy shows the change, ships the new model catalog and validates without re-seeding', async () => {
    await writeConfig({
      'local/echo-redeployed': { backend: 'local', model: 'echo', max_output_tokens: 1024 },
    });
    const redeploy = await agentos('redeploy', ...target());
    expect(redeploy).toMatchObject({ code: 0 });
    expect(redeploy.stdout).toContain('[~] AWS::Lambda::Function modelPolicyApi/Function');
    const report = await latestReport('redeploy');
    expect(report.phases.find((p) => p.name === 'seed')?.outcome).toBe('skipped');
    const models = report.health.find((c) => c.name === 'model policy lists entitled models');
    expect(models?.detail).toContain('local/echo-redeployed');
  });

  it('keys rotate takes effect at redeploy, and tokens of the previous key keep verifying', async () => {
    const rotate = await agentos('keys', 'rotate', ...target());
    expect(rotate).toMatchObject({ code: 0, stdout: expect.stringContaining('first = active') });
    // A second rotation before the first is deployed would drop the key the node signs with.
    const again = await agentos('keys', 'rotate', ...target());
    expect(again).toMatchObject({ code: 1, stderr: expect.stringContaining('not deployed yet') });
    expect(await agentos('redeploy', ...target())).toMatchObject({ code: 0 });
    const hosted = (await latestReport('redeploy')).endpoints['orchestrator']!;
    const jwks = (await (await fetch(`${hosted}/.well-known/jwks.json`)).json()) as { keys: unknown[] };
    expect(jwks.keys).toHaveLength(2);
    const answer = await fetch(`${hosted}/v1/runs/run_00000000000000000000000000`, {
      headers: { authorization: `Bearer ${nodeToken}` },
    });
    expect(answer.status).toBe(404);
    // Retiring the previous key now would cut off tokens it signed that are still alive.
    const retire = await agentos('keys', 'retire', ...target());
    expect(retire).toMatchObject({ code: 1, stderr: expect.stringContaining('--force') });
  });

  let firstTable: string;

  it('nuke refuses without --yes, removes the stack with it, and a new up after it works', async () => {
    const refused = await agentos('nuke', ...target());
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('retained (--delete-data deletes them)');
    expect(await stackExists()).toBe(true);

    const table = (await latestReport('up')).endpoints['table']!;
    firstTable = table;
    expect(await agentos('nuke', ...target(), '--yes')).toMatchObject({ code: 0 });
    expect(await stackExists()).toBe(false);
    const db = new DynamoDBClient(aws());
    // Retained: the data outlives the stack unless the operator asks for it to go.
    expect((await db.send(new DescribeTableCommand({ TableName: table }))).Table?.TableName).toBe(table);
    db.destroy();

    const again = await agentos('up', ...target());
    expect(again).toMatchObject({ code: 0 });
    expect((await latestReport('up')).outcome).toBe('green');
  });

  it("nuke --delete-data also deletes the retained tables, the earlier deployment's too, and the signing keys", async () => {
    const table = (await latestReport('up')).endpoints['table']!;
    const nuke = await agentos('nuke', ...target(), '--yes', '--delete-data');
    expect(nuke).toMatchObject({ code: 0, stdout: expect.stringContaining(firstTable) });
    const db = new DynamoDBClient(aws());
    await expect(db.send(new DescribeTableCommand({ TableName: table }))).rejects.toThrow();
    await expect(db.send(new DescribeTableCommand({ TableName: firstTable }))).rejects.toThrow();
    db.destroy();
    const sm = new SecretsManagerClient(aws());
    await expect(
      sm.send(new DescribeSecretCommand({ SecretId: `agentos/${stage}/service-signing-key` })),
    ).rejects.toThrow();
    sm.destroy();
  });
});
