import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';
import { runCli, storeSigningKey, writeLocalState } from '../support/cli-local-node.ts';

/** A whole node in this process: the APIs, the step worker and the Model Policy with its local models. */
let node: TestNode;
let stateDir: string;
const nodeId = `res-${Date.now().toString(36)}`;

/** Runs the CLI as an operator would, against the node of `--node-id`, optionally with standard input. */
const agentos = (args: string[], stdin?: string) => runCli({ AGENTOS_STATE_DIR: stateDir }, args, stdin);

const local = (...args: string[]) => [...args, '--local', '--node-id', nodeId];

const writeState = (id: string, orchestratorUrl: string, kid: string) =>
  writeLocalState(stateDir, id, node, orchestratorUrl, kid);

beforeAll(async () => {
  node = await startTestNode();
  await node.seed('default', { tool_ids: ['echo', 'http_fetch'] });
  await node.auth.registerTenant('elsewhere');
  stateDir = await mkdtemp(join(tmpdir(), 'agentos-state-'));
  await storeSigningKey(nodeId, node);
  await writeState(nodeId, node.node.orchestratorUrl, node.auth.signingKey.kid);
});

afterAll(async () => {
  await node.stop();
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

  it('shows a run and its events, and follows them to the end', async () => {
    const runId = await createRun('hi');
    const followed = await agentos(local('runs', 'events', runId, '--follow'));
    expect(followed.code).toBe(0);
    expect(followed.stdout).toMatch(/^SEQ\s+TIME\s+TYPE\s+DATA\n1\s+\S+\s+run\.queued\s/);
    expect(followed.stdout.trim().split('\n').at(-1)).toMatch(/^\d+\s+\S+\s+run\.completed\s/);
    const shown = await agentos(local('runs', 'get', runId));
    expect(shown.stdout).toMatch(new RegExp(`^object\\s+run\\nrun_id\\s+${runId}\\n`));
    expect(shown.stdout).toMatch(/\nstatus\s+completed\n/);
    const json = JSON.parse((await agentos(local('runs', 'events', runId, '--json'))).stdout) as {
      data: { sequence: number; type: string }[];
    };
    expect(json.data[0]).toMatchObject({ sequence: 1, type: 'run.queued' });
    const after = await agentos(local('runs', 'events', runId, '--follow', '--json', '--after', '1000'));
    expect(after).toMatchObject({ code: 0, stdout: '' });
  });
});

/** Creates a run of the sample agent as the principal the CLI mints its tokens for; returns its id. */
async function createRun(content: string): Promise<string> {
  // A member sees its own runs: the CLI's tokens are the seeded admin's.
  const token = await node.auth.token('default', { subject: 'admin@default' });
  const created = await fetch(`${node.node.orchestratorUrl}/v1/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ agent_id: 'sample-agent', input: { messages: [{ role: 'user', content }] } }),
  });
  expect(created.status).toBe(201);
  return ((await created.json()) as { run_id: string }).run_id;
}

/** Waits (by following its events) until a run ended. */
async function finished(runId: string): Promise<void> {
  expect((await agentos(local('runs', 'events', runId, '--follow', '--json'))).code).toBe(0);
}

describe('agentos runs list and steps on a local node', { timeout: 180_000 }, () => {
  const script = (turns: unknown[]) => `agentos-script: ${JSON.stringify(turns)}`;
  let toolRun: string;
  let failedRun: string;

  beforeAll(async () => {
    toolRun = await createRun(
      script([
        {
          tool_calls: [
            { name: 'echo', arguments: { text: 'hi' } },
            // Loopback: the SSRF policy refuses it (the node allow-lists nothing).
            { name: 'http_fetch', arguments: { url: 'http://127.0.0.1:9/' } },
          ],
        },
        { reply: 'done' },
      ]),
    );
    failedRun = await createRun(script([{ error: 'invalid_request' }]));
    await finished(toolRun);
    await finished(failedRun);
  });

  it('lists runs newest first with the status filter, and follows cursors with --all', async () => {
    const completed = await agentos(local('runs', 'list', '--status', 'completed', '--limit', '1'));
    expect(completed.code).toBe(0);
    const lines = completed.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^RUN_ID\s+STATUS\s+AGENT\s+STEPS\s+CREATED$/);
    expect(lines[1]).toMatch(new RegExp(`^${toolRun}\\s+completed\\s+sample-agent\\s+2\\s+\\S+$`));
    expect(lines[2]).toMatch(/^\(more: --cursor \S+, or --all\)$/);
    const all = JSON.parse(
      (await agentos(local('runs', 'list', '--status', 'completed', '--limit', '1', '--all', '--json')))
        .stdout,
    ) as { data: { run_id: string; status: string }[]; next_cursor: string | null };
    expect(all.data.length).toBeGreaterThanOrEqual(2);
    expect(all.data[0]?.run_id).toBe(toolRun);
    expect(all.data.every((run) => run.status === 'completed')).toBe(true);
    expect(all.data.map((run) => run.run_id)).not.toContain(failedRun);
    expect(all.next_cursor).toBeNull();
    const failed = JSON.parse(
      (await agentos(local('runs', 'list', '--status', 'failed', '--json'))).stdout,
    ) as {
      data: { run_id: string }[];
    };
    expect(failed.data.map((run) => run.run_id)).toEqual([failedRun]);
  });

  it('refuses an unknown status before calling the node (exit 2)', async () => {
    const result = await agentos(local('runs', 'list', '--status', 'done'));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /argument 'done' is invalid\. one of queued, running, completed, failed, canceled/,
    );
  });

  it('prints a run’s steps with their tool calls, attempts and tool errors', async () => {
    const steps = await agentos(local('runs', 'steps', toolRun));
    expect(steps.code).toBe(0);
    const lines = steps.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^STEP\s+STATUS\s+DURATION_MS\s+MODEL\s+TOOLS\s+ERROR$/);
    expect(lines[1]).toMatch(
      /^1\s+completed\s+\d+\s+local\/scripted\s+echo×1 http_fetch×1!blocked_destination\s+-$/,
    );
    expect(lines[2]).toMatch(/^2\s+completed\s+\d+\s+local\/scripted\s+-\s+-$/);
    expect(lines).toHaveLength(3);
    const json = JSON.parse((await agentos(local('runs', 'steps', toolRun, '--json'))).stdout) as {
      data: { step: number; tool_calls: { name: string; idempotency_key: string }[] }[];
    };
    expect(json.data[0]).toMatchObject({
      step: 1,
      tool_calls: [
        { name: 'echo', idempotency_key: `${toolRun}/s1/c0` },
        { name: 'http_fetch', idempotency_key: `${toolRun}/s1/c1` },
      ],
    });
    const paged = await agentos(local('runs', 'steps', toolRun, '--limit', '1'));
    expect(paged.stdout.trim().split('\n').at(-1)).toMatch(/^\(more: --cursor \S+, or --all\)$/);
  });

  it('prints the error code of the step that failed the run', async () => {
    const steps = await agentos(local('runs', 'steps', failedRun));
    expect(steps.stdout.trim().split('\n')[1]).toMatch(/^1\s+failed\s+\d+\s+local\/scripted\s+-\s+\S+$/);
  });

  it('prints the API’s refusal and exits 1 for an unknown run', async () => {
    expect(await agentos(local('runs', 'steps', 'run_zzz'))).toMatchObject({
      code: 1,
      stderr: 'not_found: run_id run_zzz was not found\n',
    });
  });

  it('exits 3 when the node cannot be reached', async () => {
    await writeState('gone', 'http://127.0.0.1:47', 'unused');
    const result = await agentos(['runs', 'list', '--local', '--node-id', 'gone', '--token', 't']);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/^agentos: cannot reach the node/);
  });
});
