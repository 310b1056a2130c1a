import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentOsClient } from '../../cli/client/agentos-client.ts';
import { startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';
import { scriptedInput, waitForRun } from '../support/run-events.ts';

/**
 * The operator's capacity report on a node over real HTTP and the emulator's SQS (HLD §10.2
 * backpressure): the node's run slots, the step queue's depth and the oldest step age its workers saw.
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
        // No step was received yet on this fresh node.
        oldest_message_age_ms: null,
        age_window_seconds: 60,
      },
    });
  });

  it('tells the age of the oldest step message the workers received once runs went through', async () => {
    await node.seed('initech');
    const member = new AgentOsClient(node.node.orchestratorUrl, await node.auth.token('initech'));
    const created = await member.createRun(
      scriptedInput('sample-agent', [
        { tool_calls: [{ name: 'echo', arguments: { text: 'x' } }] },
        { reply: 'ok' },
      ]),
    );
    expect(created.status).toBe(201);
    await waitForRun(member, created.body.run_id, (run) => run.status === 'completed');

    const operator = await node.auth.token('operator', { subject: 'ops', scopes: ['operator'] });
    const answer = await capacity(operator);
    expect(answer.status).toBe(200);
    const queue = answer.body['step_queue'] as {
      oldest_message_age_ms: unknown;
      age_window_seconds: unknown;
    };
    expect(queue.age_window_seconds).toBe(60);
    expect(Number.isInteger(queue.oldest_message_age_ms)).toBe(true);
    expect(queue.oldest_message_age_ms).toBeGreaterThanOrEqual(0);
  });

  it('is refused to a tenant’s token', async () => {
    await node.seed('acme');
    const member = await node.auth.token('acme', { scopes: ['operator'] });
    expect((await capacity(member)).status).toBe(403);
  });
});
