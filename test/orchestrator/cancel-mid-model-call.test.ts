import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';
import { scriptedInput } from '../support/run-events.ts';

/**
 * The kill switch on a node over real HTTP (HLD §5.2, §10.2): a run canceled while its model call
 * is in flight stops waiting for the model within seconds, instead of holding its step worker (and
 * its step message) until the model would have answered.
 */

let node: TestNode;
let token: string;
let operator: string;

type Usage = { budgets: { reserved_tokens: number }[] };
type Capacity = { step_queue: { visible: number; in_flight: number; delayed: number } };

beforeAll(async () => {
  node = await startTestNode();
  await node.seed('acme');
  await node.auth.registerTenant('operator');
  operator = await node.auth.token('operator', { subject: 'ops', scopes: ['operator'] });
  // A token budget, so the model call's reservation shows in the tenant's usage.
  const policy = await fetch(`${node.node.modelPolicyUrl}/v1/admin/tenants/acme/model-policy`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      entitlements: { allow: ['*'] },
      max_tokens: 4096,
      redaction: { input: false, output: false },
      budgets: [{ scope: 'tenant', period: 'day', limit_usd: 1000, limit_tokens: 10_000_000 }],
    }),
  });
  if (!policy.ok) throw new Error(`model policy not set: ${policy.status} ${await policy.text()}`);
  token = await node.auth.token('acme');
});

afterAll(async () => {
  await node.stop();
});

async function reservedTokens(): Promise<number> {
  const response = await fetch(`${node.node.modelPolicyUrl}/v1/usage?window=day`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const usage = (await response.json()) as Usage;
  return usage.budgets.reduce((sum, budget) => sum + budget.reserved_tokens, 0);
}

async function stepsOnTheQueue(): Promise<number> {
  const response = await fetch(`${node.node.orchestratorUrl}/v1/admin/capacity`, {
    headers: { authorization: `Bearer ${operator}` },
  });
  const { step_queue: queue } = (await response.json()) as Capacity;
  return queue.visible + queue.in_flight + queue.delayed;
}

describe('canceling a run during its model call', { timeout: 60_000 }, () => {
  it('frees its step within seconds, long before the model would have answered', async () => {
    const created = await fetch(`${node.node.orchestratorUrl}/v1/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(scriptedInput('sample-agent', [{ reply: 'too late', delay_ms: 40_000 }])),
    });
    expect(created.status).toBe(201);
    const runId = ((await created.json()) as { run_id: string }).run_id;
    // The model call is in flight once the Model Policy holds its reservation.
    await expect.poll(reservedTokens, { timeout: 20_000, interval: 200 }).toBeGreaterThan(0);
    const cancel = await fetch(`${node.node.orchestratorUrl}/v1/runs/${runId}:cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(cancel.status).toBe(200);
    // The step re-reads its run every 2 s during the call: well within 10 s of the 40 s call.
    await expect.poll(stepsOnTheQueue, { timeout: 10_000, interval: 250 }).toBe(0);
  });

  // A whole (not streamed) invoke reaches the Model Policy through API Gateway and Lambda, which do
  // not tell the function that its caller went away: the reservation stays until the backend
  // answers or the call's deadline. Releasing it at once needs the Model Policy's side (HLD §5.2).
  it.todo('gives back the model call’s budget reservation at once');
});
