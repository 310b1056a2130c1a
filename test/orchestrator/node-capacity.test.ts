import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';

/**
 * The operator's capacity report on a node over real HTTP and the emulator's SQS (HLD §10.2
 * backpressure): the node's run slots and the step queue's depth.
 */

let node: TestNode;

beforeAll(async () => {
  node = await startTestNode({ functionEnv: { AGENTOS_NODE_MAX_CONCURRENT_RUNS: '7' } });
  await node.auth.registerTenant('operator');
});

afterAll(async () => {
  await node.stop();
});

async function capacity(token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${node.node.orchestratorUrl}/v1/admin/capacity`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('the node capacity report', { timeout: 60_000 }, () => {
  it('tells an operator the node’s run slots and the step queue’s depth read from the queue', async () => {
    const operator = await node.auth.token('operator', { subject: 'ops', scopes: ['operator'] });
    const answer = await capacity(operator);
    expect(answer).toMatchObject({ status: 200 });
    expect(answer.body).toMatchObject({
      object: 'node_capacity',
      run_slots: { in_use: 0, capacity: 7, mode: 'queue' },
      step_queue: {
        visible: expect.any(Number),
        in_flight: expect.any(Number),
        delayed: expect.any(Number),
      },
    });
  });

  it('is refused to a tenant’s token', async () => {
    await node.seed('acme');
    const member = await node.auth.token('acme', { scopes: ['operator'] });
    expect((await capacity(member)).status).toBe(403);
  });
});
