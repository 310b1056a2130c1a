import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AgentOsClient } from '../../cli/client/agentos-client.ts';
import type { DashboardData } from '../../cli/local/dashboard/node-dashboard.ts';
import { isAlive } from '../../cli/local/processes.ts';
import { scriptedInput } from '../support/run-events.ts';

const run = promisify(execFile);
const cli = new URL('../../cli/bin/agentos.ts', import.meta.url).pathname;

let stateDir: string;
let reportsDir: string;
let portBase: number;
const nodeId = `cli-${Date.now().toString(36)}`;

/**
 * Runs the CLI as an operator would: with its own moto, unless the whole test run was pointed at an
 * external emulator (then no moto is installed, and the CLI uses that emulator too).
 */
async function agentos(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AGENTOS_STATE_DIR: stateDir,
    AGENTOS_REPORTS_DIR: reportsDir,
  };
  // A fresh shell: no AWS credentials (local mode must not need any).
  delete env['AWS_ACCESS_KEY_ID'];
  delete env['AWS_SECRET_ACCESS_KEY'];
  if (!inject('externalEmulator')) {
    delete env['AGENTOS_AWS_ENDPOINT'];
    delete env['AWS_ENDPOINT_URL'];
  }
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args], { env, timeout: 170_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failure.code ?? 1, stdout: failure.stdout ?? '', stderr: failure.stderr ?? '' };
  }
}

async function reports(action: string): Promise<Record<string, unknown>[]> {
  const files = (await readdir(reportsDir)).filter((f) => f.startsWith(`${action}-`) && f.endsWith('.json'));
  return Promise.all(
    files.map(
      async (f) => JSON.parse(await readFile(join(reportsDir, f), 'utf8')) as Record<string, unknown>,
    ),
  );
}

function portsFree(base: number, count: number): Promise<boolean> {
  const one = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  return Promise.all(Array.from({ length: count }, (_, i) => one(base + i))).then((all) =>
    all.every(Boolean),
  );
}

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'agentos-state-'));
  reportsDir = await mkdtemp(join(tmpdir(), 'agentos-reports-'));
  // Three consecutive free ports: orchestrator, model policy, emulator.
  do {
    // Below Linux's ephemeral range (32768+), where the many client sockets and emulators of a
    // parallel test run would otherwise take a port between this check and the node binding it.
    portBase = 20_000 + Math.floor(Math.random() * 12_000);
  } while (!(await portsFree(portBase, 3)));
});

afterAll(async () => {
  await agentos('nuke', '--local', '--yes', '--node-id', nodeId);
  await rm(stateDir, { recursive: true, force: true });
  await rm(reportsDir, { recursive: true, force: true });
});

describe('agentos up | status | token | nuke --local', () => {
  it('deploys a node stack and brings the node up to a green report, refuses a second up, serves tokens, reports status, and nukes it', async () => {
    const up = await agentos('up', '--local', '--node-id', nodeId, '--port-base', String(portBase));
    expect(up.stdout).toContain('▶ preflight');
    expect(up.stdout).toContain('✔ validate');
    expect(up.code, `agentos up failed:\n${up.stdout}\n${up.stderr}`).toBe(0);
    const [upReport] = await reports('up');
    expect(upReport).toMatchObject({
      action: 'up',
      outcome: 'green',
      endpoints: {
        orchestrator: `http://127.0.0.1:${portBase}`,
        model_policy: `http://127.0.0.1:${portBase + 1}`,
        // The node stack, deployed onto the emulator with `cdk deploy`.
        stack: `AgentOS-${nodeId}`,
      },
      seeded: {
        tenant: 'default',
        tenant_admin: 'admin@default',
        sample_agent: 'sample-agent',
        sample_tool: 'echo',
      },
    });
    expect((upReport?.['phases'] as { name: string }[]).map((p) => p.name)).toEqual([
      'preflight',
      'boot',
      'seed',
      'wire',
      'validate',
      'alert test',
      'report',
    ]);
    expect(upReport?.['smoke']).toEqual([expect.objectContaining({ outcome: 'ok' })]);
    // The test alert went through the node's notifier and SMTP sink and was stored as an e-mail.
    expect(upReport?.['alert_test']).toMatchObject({
      outcome: 'ok',
      detail: expect.stringContaining("stored by the node's SMTP sink"),
    });
    expect(JSON.stringify(upReport)).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);

    const again = await agentos('up', '--local', '--node-id', nodeId, '--port-base', String(portBase));
    expect(again.code).toBe(1);
    expect(again.stdout).toContain('already running');

    const token = await agentos('token', '--local', '--node-id', nodeId, '--tenant', 'default');
    expect(token.code).toBe(0);
    const response = await fetch(`http://127.0.0.1:${portBase}/v1/runs/run_${'0'.repeat(26)}`, {
      headers: { authorization: `Bearer ${token.stdout.trim()}` },
    });
    expect(response.status).toBe(404);

    // The node process serves its dashboard, fed by the deployed functions' own events.
    expect(up.stdout).toContain(`dashboard:    http://127.0.0.1:${portBase}/dashboard`);
    const dashboard = await fetch(`http://127.0.0.1:${portBase}/dashboard/data.json`);
    expect(dashboard.status).toBe(200);
    const data = (await dashboard.json()) as DashboardData;
    expect(data.node_id).toBe(nodeId);
    expect(data.totals.find((total) => total.key === 'runs_completed')?.value).toBeGreaterThanOrEqual(1);
    expect(
      data.tenants.find((view) => view.ranking === 'tenant-requests')?.top.map((row) => row.tenant_id),
    ).toContain('default');

    const policyFile = join(stateDir, 'policy.json');
    await writeFile(
      policyFile,
      JSON.stringify({
        entitlements: { allow: ['local/echo'] },
        max_tokens: 64,
        budgets: [{ scope: 'tenant', period: 'day', limit_usd: 1, limit_tokens: 1000 }],
      }),
    );
    const set = await agentos(
      'model-policy',
      'set',
      '--local',
      '--node-id',
      nodeId,
      '--tenant',
      'acme',
      '--file',
      policyFile,
    );
    expect(set.code).toBe(0);
    const got = await agentos('model-policy', 'get', '--local', '--node-id', nodeId, '--tenant', 'acme');
    expect(got.code).toBe(0);
    expect(got.stdout).toContain('"local/echo"');
    const invalid = await agentos(
      'model-policy',
      'set',
      '--local',
      '--node-id',
      nodeId,
      '--tenant',
      'acme',
      '--file',
      '/dev/null',
    );
    expect(invalid.code).not.toBe(0);

    const testAlert = await agentos('validate', '--local', '--test-alert', '--node-id', nodeId);
    expect(testAlert.code).toBe(0);
    expect(testAlert.stdout).toContain('✔ test alert delivered');
    expect((await reports('validate'))[0]).toMatchObject({
      outcome: 'green',
      alert_test: { outcome: 'ok', detail: expect.stringContaining('sent over SMTP') },
    });
    const mails = (await readdir(join(stateDir, nodeId, 'mail'))).filter((name) => name.endsWith('.eml'));
    expect(mails).toHaveLength(2);

    const status = await agentos('status', '--local', '--node-id', nodeId);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('running');
    expect(status.stdout).toContain(`dashboard: http://127.0.0.1:${portBase}/dashboard`);
    expect(status.stdout).toContain('Alert e-mails received by the SMTP sink: 2 (0 alerts, 2 test alerts)');
    const state = JSON.parse(await readFile(join(stateDir, nodeId, 'state.json'), 'utf8')) as {
      node: { pid: number };
      emulator: { pid: number };
      alerts: { pid: number };
    };
    expect(isAlive(state.alerts.pid)).toBe(true);

    const refused = await agentos('nuke', '--local', '--node-id', nodeId);
    expect(refused.code).toBe(1);
    expect(isAlive(state.node.pid)).toBe(true);

    const nuke = await agentos('nuke', '--local', '--yes', '--node-id', nodeId);
    expect(nuke.code).toBe(0);
    expect(isAlive(state.node.pid)).toBe(false);
    expect(isAlive(state.emulator.pid)).toBe(false);
    expect(isAlive(state.alerts.pid)).toBe(false);
    expect((await reports('nuke'))[0]).toMatchObject({ outcome: 'green' });
    const after = await agentos('status', '--local', '--node-id', nodeId);
    expect(after.code).toBe(1);
  }, 240_000);
});

describe('agentos up --local after a crash', () => {
  const crashedId = `${nodeId}-crash`;
  let base: number;

  beforeAll(async () => {
    do {
      base = 20_000 + Math.floor(Math.random() * 12_000);
    } while (!(await portsFree(base, 3)));
  });

  afterAll(async () => {
    await agentos('nuke', '--local', '--yes', '--node-id', crashedId);
  });

  it('resumes a killed node on its data without re-seeding, and its in-flight run completes', async () => {
    const up = await agentos('up', '--local', '--node-id', crashedId, '--port-base', String(base));
    expect(up.code, `agentos up failed:\n${up.stdout}\n${up.stderr}`).toBe(0);
    const token = (
      await agentos('token', '--local', '--node-id', crashedId, '--tenant', 'default')
    ).stdout.trim();
    const client = new AgentOsClient(`http://127.0.0.1:${base}`, token);
    // An operator's change the resumed node must keep, not overwrite with the seed.
    const policyFile = join(stateDir, 'crash-policy.json');
    await writeFile(
      policyFile,
      JSON.stringify({
        entitlements: { allow: ['local/*', 'tier:*'] },
        max_tokens: 777,
        budgets: [{ scope: 'tenant', period: 'day', limit_usd: 1, limit_tokens: 100_000 }],
      }),
    );
    const set = await agentos(
      'model-policy',
      'set',
      '--local',
      '--node-id',
      crashedId,
      '--tenant',
      'default',
      '--file',
      policyFile,
    );
    expect(set.stderr).toBe('');
    expect(set.code).toBe(0);

    const created = await client.request<{ run_id: string }>('POST', '/v1/runs', {
      body: scriptedInput('sample-agent', [{ reply: 'survived', delay_ms: 2_000 }]),
    });
    expect(created.status).toBe(201);
    const runId = created.body.run_id;
    const state = () =>
      readFile(join(stateDir, crashedId, 'state.json'), 'utf8').then(
        (text) => JSON.parse(text) as { node: { pid: number }; emulator: { pid: number } },
      );
    const before = await state();
    // Mid-step: the model call (2 s) is under way when the node dies.
    let requested = false;
    for (let polls = 0; !requested && polls < 300; polls += 1) {
      const page = await client.request<{ data: { type: string }[] }>('GET', `/v1/runs/${runId}/events`);
      requested = page.body.data.some((event) => event.type === 'model.requested');
      if (!requested) await new Promise((r) => setTimeout(r, 50));
    }
    expect(requested).toBe(true);
    process.kill(before.node.pid, 'SIGKILL');
    while (isAlive(before.node.pid)) await new Promise((r) => setTimeout(r, 50));

    const again = await agentos('up', '--local', '--node-id', crashedId, '--port-base', String(base));
    expect(again.stdout).toContain('resuming stopped node');
    expect(again.code).toBe(0);
    const after = await state();
    expect(after.emulator.pid).toBe(before.emulator.pid);
    const upReports = (await reports('up')).filter((report) => report['node_id'] === crashedId);
    const resumed = upReports.find((report) =>
      (report['phases'] as { name: string; outcome: string }[]).some(
        (phase) => phase.name === 'seed' && phase.outcome === 'skipped',
      ),
    );
    expect(resumed).toMatchObject({
      outcome: 'green',
      seeded: { tenant: 'default', sample_agent: 'sample-agent' },
    });

    const got = await agentos(
      'model-policy',
      'get',
      '--local',
      '--node-id',
      crashedId,
      '--tenant',
      'default',
    );
    expect(got.stdout).toContain('777');
    // Well inside the step queue's 900 s visibility timeout, which is all a killed worker's message
    // would otherwise wait for.
    let run = (await client.request<{ status: string; output: unknown }>('GET', `/v1/runs/${runId}`)).body;
    for (
      let waited = 0;
      !['completed', 'failed', 'canceled'].includes(run.status) && waited < 150_000;
      waited += 500
    ) {
      await new Promise((r) => setTimeout(r, 500));
      run = (await client.request<{ status: string; output: unknown }>('GET', `/v1/runs/${runId}`)).body;
    }
    expect(run.status).toBe('completed');
    expect(JSON.stringify(run.output)).toContain('survived');
    const events = await client.request<{ data: { sequence: number; type: string }[] }>(
      'GET',
      `/v1/runs/${runId}/events`,
    );
    const sequences = events.body.data.map((event) => event.sequence);
    expect(sequences).toEqual(sequences.map((_, index) => index + 1));
    expect(events.body.data.filter((event) => event.type === 'run.completed')).toHaveLength(1);
  }, 300_000);
});

describe('agentos up --local alerting', () => {
  const alertingId = `${nodeId}-alert`;
  let base: number;

  beforeAll(async () => {
    do {
      base = 20_000 + Math.floor(Math.random() * 12_000);
    } while (!(await portsFree(base, 3)));
  });

  afterAll(async () => {
    await agentos('nuke', '--local', '--yes', '--node-id', alertingId);
  });

  it('returns exactly one service-down e-mail in the SMTP sink while the killed node keeps failing its health checks', async () => {
    const config = join(stateDir, 'alerting.json');
    await writeFile(
      config,
      JSON.stringify({
        alerts: { local_period_seconds: 5, thresholds: { service_down: { evaluation_periods: 1 } } },
      }),
    );
    const up = await agentos(
      'up',
      '--local',
      '--node-id',
      alertingId,
      '--port-base',
      String(base),
      '--config',
      config,
    );
    expect(up.code, `agentos up failed:\n${up.stdout}\n${up.stderr}`).toBe(0);
    const state = JSON.parse(await readFile(join(stateDir, alertingId, 'state.json'), 'utf8')) as {
      node: { pid: number };
      alerts: { mail_dir: string; log_file: string };
    };
    const serviceDown = async () => {
      const names = (await readdir(state.alerts.mail_dir)).filter((name) => name.endsWith('.eml'));
      const texts = await Promise.all(
        names.map((name) => readFile(join(state.alerts.mail_dir, name), 'utf8')),
      );
      return texts.filter((text) => /^X-AgentOS-Alarm: service_down$/im.test(text));
    };
    expect(await serviceDown()).toHaveLength(0);

    // The injected fault: the node process dies; its APIs stop answering their health checks.
    process.kill(state.node.pid, 'SIGKILL');
    let mails: string[] = [];
    for (let polls = 0; mails.length === 0 && polls < 300; polls += 1) {
      await new Promise((r) => setTimeout(r, 100));
      mails = await serviceDown();
    }
    expect(mails).toHaveLength(1);
    // Long headers are folded onto continuation lines.
    expect(mails[0]?.replace(/\r?\n[ \t]+/g, ' ')).toContain(`service_down on node ${alertingId}`);
    // The alarm keeps firing every period; the e-mail is not sent again inside its window.
    let deduplicated = false;
    for (let polls = 0; !deduplicated && polls < 300; polls += 1) {
      await new Promise((r) => setTimeout(r, 100));
      deduplicated = (await readFile(state.alerts.log_file, 'utf8')).includes('"reason":"deduplicated"');
    }
    expect(deduplicated).toBe(true);
    expect(await serviceDown()).toHaveLength(1);

    const status = await agentos('status', '--local', '--node-id', alertingId);
    expect(status.stdout).toContain('Alert e-mails received by the SMTP sink: 2 (1 alerts, 1 test alerts)');
  }, 240_000);
});
