import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentOsClient } from '../../cli/client/agentos-client.ts';
import { defaultTenantScopes, scopes } from '../../functions/shared/auth/auth-context.ts';
import { operatorClient, startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';
import { scriptedInput, waitForRun } from '../support/run-events.ts';

/**
 * The node-wide cap in `queue` mode over real HTTP and the emulator (HLD §10.2): runs beyond the
 * node's capacity are accepted, wait with `waiting_for_node_capacity`, and complete as slots free.
 */
let node: TestNode;
let operator: AgentOsClient;

type RunView = { run_id: string; status: string; status_reason: string | null };

beforeAll(async () => {
  node = await startTestNode({
    functionEnv: { AGENTOS_NODE_MAX_CONCURRENT_RUNS: '1', AGENTOS_NODE_CAPACITY_MODE: 'queue' },
  });
  operator = await operatorClient(node);
});

afterAll(async () => {
  await node.stop();
});

async function clientOf(tenantId: string): Promise<AgentOsClient> {
  await node.seed(tenantId);
  return new AgentOsClient(
    node.node.orchestratorUrl,
    await node.auth.token(tenantId, { scopes: [...defaultTenantScopes, scopes.runsReadAll] }),
  );
}

describe('a node at its capacity in queue mode', () => {
  it('accepts runs beyond the cap, says they wait for the node, and completes them all', async () => {
    const [acme, globex] = [await clientOf('acme'), await clientOf('globex')];
    const first = await acme.createRun(scriptedInput('sample-agent', [{ reply: 'slow', delay_ms: 3_000 }]));
    expect(first.status).toBe(201);
    await waitForRun(acme, first.body.run_id, (run) => run.status === 'running');

    // Another tenant's run and the first tenant's next run both find the node full.
    const others = [
      { client: globex, answer: await globex.createRun(scriptedInput('sample-agent', [{ reply: 'b' }])) },
      { client: acme, answer: await acme.createRun(scriptedInput('sample-agent', [{ reply: 'c' }])) },
    ];
    for (const { client, answer } of others) {
      expect(answer.status).toBe(201);
      const waiting = await waitForRun<RunView>(
        client,
        answer.body.run_id,
        (run) => run.status_reason === 'waiting_for_node_capacity' || run.status !== 'queued',
      );
      expect(waiting).toMatchObject({ status: 'queued', status_reason: 'waiting_for_node_capacity' });
    }
    const capacity = await operator.request<{
      run_slots: { in_use: number; capacity: number; mode: string };
    }>('GET', '/v1/admin/capacity');
    expect(capacity.body.run_slots).toEqual({ in_use: 1, capacity: 1, mode: 'queue' });

    for (const { client, answer } of [{ client: acme, answer: first }, ...others]) {
      const done = await waitForRun<RunView>(
        client,
        answer.body.run_id,
        (run) => run.status === 'completed',
        90_000,
      );
      expect(done).toMatchObject({ status: 'completed', status_reason: null });
    }
  }, 150_000);
});
