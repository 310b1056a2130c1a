import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { AgentOsClient } from '../../cli/client/agentos-client.ts';
import { defaultTenantScopes, scopes } from '../../functions/shared/auth/auth-context.ts';
import { testAwsConfig } from '../support/aws.ts';
import { startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';
import { allEvents, scriptedInput, waitForRun } from '../support/run-events.ts';

/**
 * The operator kill switch (HLD §10.2) on a `long` run driven by the emulator's Step Functions
 * (HLD §4.3), over real HTTP: the execution is stopped, the run ends `canceled` with the operator's
 * reason, its run slot is freed, and the node writes one audit line naming who stopped what and why.
 */
let node: TestNode;
let operator: AgentOsClient;
let operatorToken: string;
let sfn: SFNClient;
/** Every line the node writes to stdout (its structured logs) while a test runs. */
let written: string[] = [];

beforeAll(async () => {
  node = await startTestNode({ functionEnv: { POWERTOOLS_LOG_LEVEL: 'INFO' } });
  await node.auth.registerTenant('operator');
  operatorToken = await node.auth.token('operator', {
    subject: 'ops-alice',
    scopes: [scopes.operator],
  });
  operator = new AgentOsClient(node.node.orchestratorUrl, operatorToken);
  sfn = new SFNClient(testAwsConfig());
});

afterAll(async () => {
  sfn.destroy();
  await node.stop();
});

beforeEach(() => {
  captureLogs();
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** Captures the node's log lines (the Powertools logger writes JSON lines to stdout). */
function captureLogs(): void {
  written = [];
  vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: unknown) => {
    written.push(String(chunk));
    // Swallowed: the node logs every step at INFO; the test reads what it needs from `written`.
    return true;
  }) as typeof process.stdout.write);
}

function logLines(): Record<string, unknown>[] {
  return written
    .flatMap((chunk) => chunk.split('\n'))
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function slotsInUse(): Promise<number> {
  const answer = await operator.request<{ run_slots: { in_use: number } }>('GET', '/v1/admin/capacity');
  return answer.body.run_slots.in_use;
}

/** The execution of the node's long-run state machine (one run per test, so one execution). */
async function executionArn(): Promise<string | undefined> {
  const listed = await sfn.send(
    new ListExecutionsCommand({
      stateMachineArn: node.resources.longRunStateMachineArn,
    }),
  );
  return listed.executions?.[0]?.executionArn;
}

describe("an operator's stop of a long run", () => {
  it('stops its execution, ends it canceled with the reason and frees its slot', async () => {
    await node.seed('acme', { run_mode: 'long', tool_ids: ['echo', 'wait'] });
    const acme = new AgentOsClient(
      node.node.orchestratorUrl,
      await node.auth.token('acme', {
        scopes: [...defaultTenantScopes, scopes.runsReadAll],
      }),
    );
    const created = await acme.createRun(
      scriptedInput('sample-agent', [
        { tool_calls: [{ name: 'wait', arguments: { seconds: 300 } }] },
        { reply: 'done' },
      ]),
    );
    expect(created.status).toBe(201);
    const runId = created.body.run_id;
    await waitForRun<{ status: string; steps_completed: number }>(
      acme,
      runId,
      (run) => run.steps_completed >= 1 || ['completed', 'failed', 'canceled'].includes(run.status),
      60_000,
    );
    await expect.poll(executionArn, { timeout: 30_000, interval: 200 }).toBeDefined();
    const arn = (await executionArn())!;
    expect((await sfn.send(new DescribeExecutionCommand({ executionArn: arn }))).status).toBe('RUNNING');
    expect(await slotsInUse()).toBe(1);

    const stop = await operator.request('POST', '/v1/admin/tenants/acme/runs:stop', {
      body: { run_ids: [runId], reason: 'runaway long run' },
    });
    expect(stop.status).toBe(200);
    expect(stop.body).toMatchObject({ stopped: [runId] });

    expect((await sfn.send(new DescribeExecutionCommand({ executionArn: arn }))).status).toBe('ABORTED');
    expect((await acme.getRun(runId)).body).toMatchObject({
      status: 'canceled',
    });
    const last = (await allEvents(acme, runId)).at(-1);
    expect(last).toMatchObject({
      type: 'run.canceled',
      data: { reason: 'runaway long run' },
    });
    expect(await slotsInUse()).toBe(0);
  }, 120_000);

  it('writes one audit line naming the operator, the tenant, the runs and the reason, and no token', async () => {
    await node.seed('globex');
    const globex = new AgentOsClient(
      node.node.orchestratorUrl,
      await node.auth.token('globex', { scopes: [...defaultTenantScopes, scopes.runsReadAll] }),
    );
    const created = await globex.createRun(
      scriptedInput('sample-agent', [{ reply: 'slow', delay_ms: 60_000 }]),
    );
    expect(created.status).toBe(201);
    const runId = created.body.run_id;
    await waitForRun(globex, runId, (run) => run.status === 'running');

    written = [];
    const stop = await operator.request('POST', '/v1/admin/tenants/globex/runs:stop', {
      body: { run_ids: [runId, 'run_01aaaaaaaaaaaaaaaaaaaaaaaa'], reason: 'abusive traffic' },
    });
    expect(stop.status).toBe(200);

    const audits = logLines().filter((line) => line['message'] === 'operator stopped runs');
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({
      level: 'INFO',
      audit: {
        operator: { tenant_id: 'operator', principal_id: 'ops-alice' },
        tenant_id: 'globex',
        reason: 'abusive traffic',
        stopped: [runId],
        already_over: [],
        not_found: ['run_01aaaaaaaaaaaaaaaaaaaaaaaa'],
      },
    });
    // The operator's token, or any part of it, never reaches the log.
    const auditText = JSON.stringify(audits[0]);
    for (const part of operatorToken.split('.')) expect(auditText).not.toContain(part);
    expect(auditText.toLowerCase()).not.toContain('bearer');
  }, 120_000);
});
