import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestNode } from '../support/local-node-harness.ts';
import { startOperatorCliNode } from '../support/cli-local-node.ts';
import type { OperatorCliNode } from '../support/cli-local-node.ts';

/** A whole node in this process; the CLI reaches it through a local state file, as after `up --local`. */
let cli: OperatorCliNode;
let node: TestNode;
let reportsDir: string;
const nodeId = `adm-${Date.now().toString(36)}`;

const agentos = (args: string[], stdin?: string) => cli.agentos(args, stdin);

const local = (...args: string[]) => cli.local(...args);

/** The actions of the reports written so far. */
async function reportActions(): Promise<string[]> {
  const files = (await readdir(reportsDir)).filter((file) => file.endsWith('.json'));
  return Promise.all(
    files.map(
      async (file) =>
        (JSON.parse(await readFile(join(reportsDir, file), 'utf8')) as { action: string }).action,
    ),
  );
}

beforeAll(async () => {
  cli = await startOperatorCliNode(nodeId, (started) => started.seed('default'));
  ({ node, reportsDir } = cli);
});

afterAll(async () => {
  await cli.stop();
});

// Each CLI call starts a process that loads the CLI's sources: seconds each on a loaded machine.
describe('agentos tenants on a local node', { timeout: 240_000 }, () => {
  it('creates, shows, lists, updates, disables and enables a tenant, with a report of each change', async () => {
    const created = await agentos(local('tenants', 'create', 'cli-tenant', '--name', 'CLI tenant'));
    expect(created).toMatchObject({ code: 0, stdout: 'created tenant cli-tenant\n' });
    expect((await agentos(local('tenants', 'create', 'cli-tenant'))).stderr).toMatch(/^conflict: /m);

    const shown = JSON.parse(
      (await agentos(local('tenants', 'get', 'cli-tenant', '--json'))).stdout,
    ) as Record<string, unknown>;
    expect(shown).toMatchObject({
      tenant_id: 'cli-tenant',
      status: 'active',
      model_policy_path: '/v1/admin/tenants/cli-tenant/model-policy',
    });
    const listed = await agentos(local('tenants', 'list', '--limit', '100'));
    expect(listed.stdout).toMatch(/^TENANT_ID\s+STATUS\s+NAME\s+VERSION\s+RUNS\/S\s+CONCURRENT\s+REASON\n/);
    expect(listed.stdout).toMatch(/\ncli-tenant\s+active\s+CLI tenant\s+1\s+/);

    const updated = await agentos(
      local('tenants', 'update', 'cli-tenant'),
      JSON.stringify({ quotas: { max_concurrent_runs: 3 } }),
    );
    expect(updated).toMatchObject({ code: 0, stdout: 'updated tenant cli-tenant (version 2)\n' });
    const disabled = await agentos(local('tenants', 'disable', 'cli-tenant', '--reason', 'testing the CLI'));
    expect(disabled).toMatchObject({ code: 0, stdout: 'disabled tenant cli-tenant; stopped 0 run(s)\n' });
    expect((await agentos(local('agents', 'list', '--tenant', 'cli-tenant'))).stderr).toMatch(
      /^forbidden: /m,
    );
    expect((await agentos(local('tenants', 'enable', 'cli-tenant'))).code).toBe(0);
    expect((await agentos(local('agents', 'list', '--tenant', 'cli-tenant'))).code).toBe(0);

    expect((await reportActions()).sort()).toEqual(
      expect.arrayContaining(['tenants-create', 'tenants-update', 'tenants-disable', 'tenants-enable']),
    );
  });
});

describe('agentos principals on a local node', { timeout: 240_000 }, () => {
  it('puts a principal, issues it a token that works, and revokes it', async () => {
    const put = await agentos(
      local('principals', 'put', 'cli-bot', '--scopes', 'runs:read', '--type', 'service'),
    );
    expect(put).toMatchObject({ code: 0, stdout: 'stored principal cli-bot\n' });
    const issued = await agentos(local('principals', 'token', 'cli-bot', '--ttl', '600'));
    expect(issued.code).toBe(0);
    const token = issued.stdout.trim();
    expect(token.split('.')).toHaveLength(3);

    const tokens = JSON.parse(
      (await agentos(local('principals', 'tokens', '--principal', 'cli-bot', '--json'))).stdout,
    ) as { data: { token_id: string; revoked_at: string | null }[] };
    expect(tokens.data).toHaveLength(1);
    expect(JSON.stringify(tokens)).not.toContain(token);
    expect((await agentos(local('runs', 'list', '--token', token))).code).toBe(0);

    expect((await agentos(local('principals', 'revoke', tokens.data[0]!.token_id))).code).toBe(0);
    const refused = await agentos(local('runs', 'list', '--token', token));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^unauthorized: /);
    for (const file of await readdir(reportsDir))
      expect(await readFile(join(reportsDir, file), 'utf8')).not.toContain(token);
  });

  it('refuses to grant the operator scope', async () => {
    const result = await agentos(local('principals', 'put', 'cli-op', '--scopes', 'operator'));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^forbidden: /m);
  });
});

describe('agentos runs list --tenant and runs stop on a local node', { timeout: 240_000 }, () => {
  it("lists the tenant's runs as an operator and stops them with a reason", async () => {
    const token = await node.auth.token('default');
    const created = await fetch(`${node.node.orchestratorUrl}/v1/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        agent_id: 'sample-agent',
        input: { messages: [{ role: 'user', content: 'hi' }] },
      }),
    });
    expect(created.status).toBe(201);
    const runId = ((await created.json()) as { run_id: string }).run_id;

    const listed = JSON.parse(
      (await agentos(local('runs', 'list', '--tenant', 'default', '--json'))).stdout,
    ) as {
      data: { run_id: string }[];
    };
    expect(listed.data.map((run) => run.run_id)).toContain(runId);

    const stopped = await agentos(
      local('runs', 'stop', '--tenant', 'default', '--run', runId, '--reason', 'cli test'),
    );
    expect(stopped.code).toBe(0);
    // The run may have completed before the stop: either way it is accounted for.
    expect(stopped.stdout).toMatch(new RegExp(`${runId}\\s+(stopped|already completed)`));
    const unknown = await agentos(
      local(
        'runs',
        'stop',
        '--tenant',
        'default',
        '--run',
        'run_0000000000000000000000000a',
        '--reason',
        'x',
      ),
    );
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toMatch(/run_0000000000000000000000000a\s+not found/);
    expect(await reportActions()).toContain('runs-stop');
  });
});
