import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { AgentOsClient } from '../../cli/client/agentos-client.ts';
import {
  operatorRunCommands,
  principalCommands,
  tenantCommands,
} from '../../cli/commands/api/admin-commands.ts';
import type { CommandOutput } from '../../cli/commands/api/resource-output.ts';

/** A client answering each `METHOD path` from a table, recording the requests. */
function stubClient(answers: Record<string, { status: number; body: unknown }>) {
  const requests: { method: string; path: string; body?: unknown }[] = [];
  const client = {
    request: async (method: string, path: string, options: { body?: unknown } = {}) => {
      requests.push({ method, path, ...(options.body === undefined ? {} : { body: options.body }) });
      const answer = answers[`${method} ${path}`];
      if (answer === undefined) throw new Error(`unexpected ${method} ${path}`);
      return { status: answer.status, headers: new Headers(), body: answer.body };
    },
  } as unknown as AgentOsClient;
  return { client, requests };
}

function output(json = false): CommandOutput & { text: () => string; errors: () => string } {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks: string[] = [];
  const errs: string[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  err.on('data', (chunk: Buffer) => errs.push(chunk.toString()));
  return { out, err, json, text: () => chunks.join(''), errors: () => errs.join('') };
}

async function reportsIn(dir: string): Promise<Record<string, unknown>[]> {
  const files = (await readdir(dir)).filter((file) => file.endsWith('.json'));
  return Promise.all(
    files.map(async (file) => JSON.parse(await readFile(join(dir, file), 'utf8')) as Record<string, unknown>),
  );
}

const target = { kind: 'local' as const, nodeId: 'local', portBase: 8710 };

describe('the administration commands', () => {
  it('stop runs, print what happened to each, and write a green report with the reason', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agentos-reports-'));
    const { client, requests } = stubClient({
      'POST /v1/admin/tenants/acme/runs:stop': {
        status: 200,
        body: {
          object: 'run_stop',
          tenant_id: 'acme',
          reason: 'loop',
          stopped: ['run_a'],
          already_over: [{ run_id: 'run_b', status: 'completed' }],
          not_found: [],
        },
      },
    });
    const out = output();
    const code = await operatorRunCommands.stop(client, 'acme', { all: true }, 'loop', { target, dir }, out);
    expect(code).toBe(0);
    expect(requests).toEqual([
      { method: 'POST', path: '/v1/admin/tenants/acme/runs:stop', body: { all: true, reason: 'loop' } },
    ]);
    expect(out.text()).toMatch(/run_a\s+stopped/);
    expect(out.text()).toMatch(/run_b\s+already completed/);
    const [report] = await reportsIn(dir);
    expect(report).toMatchObject({ action: 'runs-stop', outcome: 'green', mode: 'local' });
    expect(report?.['notes']).toEqual(expect.arrayContaining(['reason: loop', 'stopped: run_a']));
  });

  it('print an issued token once and keep it out of the report', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agentos-reports-'));
    const { client } = stubClient({
      'POST /v1/tenant/principals/bot/tokens': {
        status: 201,
        body: {
          object: 'token',
          token_id: 'tok-1',
          principal_id: 'bot',
          scopes: ['runs:read'],
          expires_at: '2026-02-01T00:00:00.000Z',
          token: 'eyJ.secret.jwt',
        },
      },
    });
    const out = output();
    await principalCommands.token(client, 'bot', { ttl_seconds: 600 }, { target, dir }, out);
    expect(out.text()).toBe('eyJ.secret.jwt\n');
    const files = await readdir(dir);
    for (const file of files) expect(await readFile(join(dir, file), 'utf8')).not.toContain('eyJ.secret.jwt');
    expect(await reportsIn(dir)).toMatchObject([{ action: 'principals-token', outcome: 'green' }]);
  });

  it('write a red report and rethrow the refusal when the API refuses a change', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agentos-reports-'));
    const { client } = stubClient({
      'POST /v1/admin/tenants/acme:disable': {
        status: 403,
        body: {
          error: {
            code: 'forbidden',
            message: 'Only operators of the platform tenant may administer tenants',
          },
        },
      },
    });
    await expect(
      tenantCommands.disable(client, 'acme', 'unpaid', { target, dir }, output()),
    ).rejects.toMatchObject({ code: 'forbidden', status: 403 });
    expect(await reportsIn(dir)).toMatchObject([
      {
        action: 'tenants-disable',
        outcome: 'red',
        phases: [{ name: 'disable tenant', outcome: 'failed' }, { name: 'report' }],
      },
    ]);
  });

  it('list a tenant runs as an operator with the status filter', async () => {
    const { client, requests } = stubClient({
      'GET /v1/admin/tenants/acme/runs?status=running': {
        status: 200,
        body: {
          object: 'list',
          data: [{ run_id: 'run_a', status: 'running', agent_id: 'helper' }],
          next_cursor: null,
        },
      },
    });
    const out = output(true);
    await operatorRunCommands.list(client, 'acme', 'running', {}, out);
    expect(requests[0]?.path).toBe('/v1/admin/tenants/acme/runs?status=running');
    expect(JSON.parse(out.text())).toMatchObject({ data: [{ run_id: 'run_a' }] });
  });
});
