import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalState } from '../../cli/local/local-state.ts';
import { nodeSecretNames } from '../../infra/stacks/agentos-node-stack.ts';
import { startOrchestratorApi } from '../support/orchestrator-api-only.ts';
import { testAwsConfig } from '../support/aws.ts';

const cli = new URL('../../cli/bin/agentos.ts', import.meta.url).pathname;

type Api = Awaited<ReturnType<typeof startOrchestratorApi>>;
let api: Api;
let stateDir: string;
let stub: Server;
const nodeId = `res-${Date.now().toString(36)}`;
const stubNodeId = `stub-${Date.now().toString(36)}`;
/** What the stub server was asked, path and query. */
const stubRequests: string[] = [];

type Result = { code: number; stdout: string; stderr: string };

/** Runs the CLI as an operator would, against the node of `--node-id`, optionally with standard input. */
function agentos(args: string[], stdin?: string): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [cli, ...args],
      { env: { ...process.env, AGENTOS_STATE_DIR: stateDir, AGENTOS_TOKEN: '' }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(stdin ?? '');
  });
}

const local = (...args: string[]) => [...args, '--local', '--node-id', nodeId];

/** A local node's state file, as `agentos up --local` writes it, pointing at `orchestratorUrl`. */
async function writeState(id: string, orchestratorUrl: string, kid: string): Promise<void> {
  const config = testAwsConfig();
  const state: LocalState = {
    node_id: id,
    started_at: new Date().toISOString(),
    emulator: { endpoint: config.endpoint!, pid: null, managed: false, log_file: null },
    node: {
      pid: null,
      orchestrator_url: orchestratorUrl,
      model_policy_url: 'http://127.0.0.1:9',
      log_file: '/dev/null',
    },
    resources: {
      table: api.resources.tableName,
      step_queue_url: api.resources.stepQueueUrl,
      state_machine_arn: api.resources.stateMachineArn,
    },
    stack: { name: `AgentOS-${id}`, region: config.region, node_issuer: api.auth.issuer, signing_kid: kid },
    seeded: { tenant: 'default' },
  };
  await mkdir(join(stateDir, id), { recursive: true });
  await writeFile(join(stateDir, id, 'state.json'), JSON.stringify(state));
}

function startStub(): Promise<Server> {
  const runs = [
    {
      object: 'run',
      run_id: 'run_a',
      status: 'completed',
      agent_id: 'sample-agent',
      steps_completed: 2,
      created_at: '2026-01-01T00:00:00.000Z',
    },
    {
      object: 'run',
      run_id: 'run_b',
      status: 'completed',
      agent_id: 'sample-agent',
      steps_completed: 1,
      created_at: '2026-01-01T00:00:01.000Z',
    },
  ];
  const step = {
    object: 'step',
    run_id: 'run_a',
    step: 1,
    status: 'completed',
    duration_ms: 42,
    model: { model_ref: 'local/scripted' },
    tool_calls: [
      {
        tool_call_id: 'c1',
        name: 'echo',
        arguments: '{"text":"hi"}',
        idempotency_key: 'run_a/s1/c0',
        attempts: [{ attempt: 1 }, { attempt: 2 }],
      },
    ],
    error: null,
  };
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://stub');
    stubRequests.push(`${url.pathname}${url.search}`);
    const json = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (request.headers.authorization !== 'Bearer stub-token')
      return json(401, { error: { code: 'unauthorized', message: 'A valid bearer token is required' } });
    if (url.pathname === '/v1/runs') {
      const cursor = url.searchParams.get('cursor');
      return cursor === null
        ? json(200, { object: 'list', data: [runs[0]], next_cursor: 'c1' })
        : json(200, { object: 'list', data: [runs[1]], next_cursor: null });
    }
    if (url.pathname === '/v1/runs/run_a/steps')
      return json(200, { object: 'list', data: [step], next_cursor: null });
    return json(404, { error: { code: 'not_found', message: 'No such run' } });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

beforeAll(async () => {
  api = await startOrchestratorApi();
  await api.seed('default');
  stateDir = await mkdtemp(join(tmpdir(), 'agentos-state-'));
  // The node's signing key where `up --local` keeps it: the CLI mints its tokens with it.
  const sm = new SecretsManagerClient(testAwsConfig());
  await sm.send(
    new CreateSecretCommand({
      Name: nodeSecretNames(nodeId).serviceSigningKey,
      SecretString: JSON.stringify({ keys: [api.auth.signingKey] }),
    }),
  );
  sm.destroy();
  await writeState(nodeId, api.url, api.auth.signingKey.kid);
  stub = await startStub();
  await writeState(stubNodeId, `http://127.0.0.1:${(stub.address() as AddressInfo).port}`, 'unused');
});

afterAll(async () => {
  await api.close();
  await new Promise((resolve) => stub.close(resolve));
  await rm(stateDir, { recursive: true, force: true });
});

// Each CLI call starts a process that loads the CLI's sources: seconds each on a loaded machine.
describe('agentos agents and tools on a local node', { timeout: 180_000 }, () => {
  it('declares a tool from --file, lists it after the built-ins, shows it and deletes it', async () => {
    const file = join(stateDir, 'tool.json');
    await writeFile(
      file,
      JSON.stringify({
        tool_id: 'lookup',
        description: 'Looks a word up.',
        parameters: { type: 'object', properties: { word: { type: 'string' } }, required: ['word'] },
        http: { method: 'GET', url: 'https://dictionary.example.com/{word}' },
      }),
    );
    const created = await agentos(local('tools', 'create', '--file', file));
    expect(created).toMatchObject({ code: 0, stdout: 'created tool lookup (version 1)\n' });
    const listed = await agentos(local('tools', 'list', '--limit', '100'));
    expect(listed.code).toBe(0);
    const lines = listed.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^TOOL_ID\s+KIND\s+VERSION\s+TARGET\s+DESCRIPTION$/);
    expect(lines[1]).toMatch(/^echo\s+builtin\s+-\s+-\s+Returns the given text unchanged\.$/);
    expect(lines.at(-1)).toMatch(
      /^lookup\s+http\s+1\s+GET https:\/\/dictionary\.example\.com\/\{word\}\s+Looks a word up\.$/,
    );
    const json = await agentos(local('tools', 'get', 'lookup', '--json'));
    expect(JSON.parse(json.stdout)).toMatchObject({ tool_id: 'lookup', kind: 'http', version: 1 });
    expect(await agentos(local('tools', 'delete', 'lookup'))).toMatchObject({
      code: 0,
      stdout: 'deleted tool lookup\n',
    });
  });

  it('creates an agent from standard input, lists it, shows a version, and deletes it', async () => {
    const spec = { agent_id: 'cli-agent', name: 'CLI agent', model_ref: 'local/echo', tool_ids: ['echo'] };
    const created = await agentos(local('agents', 'create'), JSON.stringify(spec));
    expect(created).toMatchObject({ code: 0, stdout: 'created agent cli-agent (version 1)\n' });
    const listed = await agentos(local('agents', 'list'));
    expect(listed.stdout).toMatch(/^AGENT_ID\s+VERSION\s+NAME\s+MODEL\s+MODE\s+UPDATED\n/);
    expect(listed.stdout).toMatch(/\ncli-agent\s+1\s+CLI agent\s+local\/echo\s+standard\s+\S+\n/);
    expect(listed.stdout).toMatch(/\nsample-agent\s+1\s+/);
    const page = JSON.parse((await agentos(local('agents', 'list', '--json', '--limit', '1'))).stdout) as {
      data: { agent_id: string }[];
      next_cursor: string | null;
    };
    expect(page.data.map((a) => a.agent_id)).toEqual(['cli-agent']);
    expect(page.next_cursor).toEqual(expect.any(String));
    const all = JSON.parse(
      (await agentos(local('agents', 'list', '--json', '--limit', '1', '--all'))).stdout,
    ) as {
      data: { agent_id: string }[];
    };
    expect(all.data.map((a) => a.agent_id)).toEqual(['cli-agent', 'sample-agent']);
    const shown = await agentos(local('agents', 'get', 'cli-agent'));
    expect(shown.stdout).toMatch(/^agent_id\s+cli-agent\nversion\s+1\nname\s+CLI agent\n/);
    expect(await agentos(local('agents', 'delete', 'cli-agent'))).toMatchObject({ code: 0 });
    const version = await agentos(local('agents', 'get', 'cli-agent', '--version', '1', '--json'));
    expect(JSON.parse(version.stdout)).toMatchObject({ agent_id: 'cli-agent', version: 1 });
  });

  it('prints an API refusal as `code: message` and exits 1', async () => {
    const missing = await agentos(local('agents', 'get', 'nobody'));
    expect(missing).toMatchObject({ code: 1, stdout: '', stderr: 'not_found: Agent nobody not found\n' });
    const invalid = await agentos(
      local('agents', 'create'),
      JSON.stringify({ name: 'x', model_ref: 'local/echo', tool_ids: ['nope'] }),
    );
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^invalid_request: Invalid agent: tool_ids\.0 "nope" is neither/);
    const builtin = await agentos(local('tools', 'delete', 'echo'));
    expect(builtin).toMatchObject({ code: 1 });
    expect(builtin.stderr).toMatch(/^conflict: echo is a built-in tool/);
  });

  it('refuses a spec that is not JSON with a usage error (exit 2)', async () => {
    const result = await agentos(local('agents', 'create'), '{not json');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^agentos: the spec is not JSON/);
  });

  it('uses --token instead of minting one, and --tenant to mint for another tenant', async () => {
    const other = await agentos(local('agents', 'list', '--json', '--tenant', 'elsewhere'));
    expect(JSON.parse(other.stdout)).toEqual({ object: 'list', data: [], next_cursor: null });
    const bad = await agentos(local('agents', 'list', '--token', 'not-a-jwt'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^unauthorized: /);
  });

  it('shows a run and its events', async () => {
    // The principal the CLI mints its tokens for: a member sees its own runs.
    const token = await api.auth.token('default', { subject: 'admin@default' });
    const created = await fetch(`${api.url}/v1/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        agent_id: 'sample-agent',
        input: { messages: [{ role: 'user', content: 'hi' }] },
      }),
    });
    const { run_id: runId } = (await created.json()) as { run_id: string };
    const shown = await agentos(local('runs', 'get', runId));
    expect(shown.stdout).toMatch(new RegExp(`^object\\s+run\\nrun_id\\s+${runId}\\n`));
    expect(shown.stdout).toMatch(/\nstatus\s+queued\n/);
    const events = await agentos(local('runs', 'events', runId));
    expect(events.stdout).toMatch(/^SEQ\s+TIME\s+TYPE\s+DATA\n1\s+\S+\s+run\.queued\s/);
    const json = JSON.parse((await agentos(local('runs', 'events', runId, '--json'))).stdout) as {
      data: { sequence: number; type: string }[];
    };
    expect(json.data[0]).toMatchObject({ sequence: 1, type: 'run.queued' });
  });
});

describe('agentos runs list and steps (against a stub of the API)', { timeout: 120_000 }, () => {
  const stubbed = (...args: string[]) => [
    ...args,
    '--local',
    '--node-id',
    stubNodeId,
    '--token',
    'stub-token',
  ];

  it('lists runs with the status filter and follows cursors with --all', async () => {
    stubRequests.length = 0;
    const first = await agentos(stubbed('runs', 'list', '--status', 'completed', '--limit', '1'));
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(
      [
        'RUN_ID  STATUS     AGENT         STEPS  CREATED',
        'run_a   completed  sample-agent  2      2026-01-01T00:00:00.000Z',
        '(more: --cursor c1, or --all)',
        '',
      ].join('\n'),
    );
    expect(stubRequests).toEqual(['/v1/runs?status=completed&limit=1']);
    const all = await agentos(
      stubbed('runs', 'list', '--status', 'completed', '--limit', '1', '--all', '--json'),
    );
    expect((JSON.parse(all.stdout) as { data: { run_id: string }[] }).data.map((r) => r.run_id)).toEqual([
      'run_a',
      'run_b',
    ]);
    expect(stubRequests.slice(1)).toEqual([
      '/v1/runs?status=completed&limit=1',
      '/v1/runs?status=completed&limit=1&cursor=c1',
    ]);
  });

  it('prints a run’s steps with their tool calls and attempts', async () => {
    const steps = await agentos(stubbed('runs', 'steps', 'run_a'));
    expect(steps.stdout).toBe(
      [
        'STEP  STATUS     DURATION_MS  MODEL           TOOLS   ERROR',
        '1     completed  42           local/scripted  echo×2  -',
        '',
      ].join('\n'),
    );
    const json = JSON.parse((await agentos(stubbed('runs', 'steps', 'run_a', '--json'))).stdout) as {
      data: { step: number }[];
    };
    expect(json.data[0]).toMatchObject({ step: 1, tool_calls: [{ name: 'echo' }] });
  });

  it('prints the API’s refusal and exits 1 for an unknown run', async () => {
    expect(await agentos(stubbed('runs', 'steps', 'run_zzz'))).toMatchObject({
      code: 1,
      stderr: 'not_found: No such run\n',
    });
  });

  it('exits 3 when the node cannot be reached', async () => {
    await writeState('gone', 'http://127.0.0.1:47', 'unused');
    const result = await agentos(['runs', 'list', '--local', '--node-id', 'gone', '--token', 't']);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/^agentos: cannot reach the node/);
  });
});
