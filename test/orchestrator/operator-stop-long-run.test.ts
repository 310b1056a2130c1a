import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentOsClient } from '../../cli/client/agentos-client.ts';
import { defaultTenantScopes, scopes } from '../../functions/shared/auth/auth-context.ts';
import { testAwsConfig } from '../support/aws.ts';
import { startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';
import { allEvents, scriptedInput, waitForRun } from '../support/run-events.ts';

/**
 * The operator kill switch (HLD §10.2) on a `long` run driven by the emulator's Step Functions
 * (HLD §4.3), over real HTTP: the execution is stopped, the run ends `canceled` with the operator's
 * reason and its run slot is freed.
 */
let node: TestNode;
let operator: AgentOsClient;
let sfn: SFNClient;

beforeAll(async () => {
  node = await startTestNode();
  await node.auth.registerTenant('operator');
  operator = new AgentOsClient(
    node.node.orchestratorUrl,
    await node.auth.token('operator', { subject: 'ops-alice', scopes: [scopes.operator] }),
  );
  sfn = new SFNClient(testAwsConfig());
});

afterAll(async () => {
  sfn.destroy();
  await node.stop();
});

async function slotsInUse(): Promise<number> {
  const answer = await operator.request<{ run_slots: { in_use: number } }>('GET', '/v1/admin/capacity');
  return answer.body.run_slots.in_use;
}

/** The execution of the node's long-run state machine (one run per test, so one execution). */
async function executionArn(): Promise<string | undefined> {
  const listed = await sfn.send(
    new ListExecutionsCommand({ stateMachineArn: node.resources.longRunStateMachineArn }),
  );
  return listed.executions?.[0]?.executionArn;
}

describe("an operator's stop of a long run", () => {
  it('stops its execution, ends it canceled with the reason and frees its slot', async () => {
    await node.seed('acme', { run_mode: 'long', tool_ids: ['echo', 'wait'] });
    const acme = new AgentOsClient(
      node.node.orchestratorUrl,
      await node.auth.token('acme', { scopes: [...defaultTenantScopes, scopes.runsReadAll] }),
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
    expect((await acme.getRun(runId)).body).toMatchObject({ status: 'canceled' });
    const last = (await allEvents(acme, runId)).at(-1);
    expect(last).toMatchObject({ type: 'run.canceled', data: { reason: 'runaway long run' } });
    expect(await slotsInUse()).toBe(0);
  }, 120_000);
});
