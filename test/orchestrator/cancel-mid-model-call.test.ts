import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';
import { scriptedInput } from '../support/run-events.ts';

/**
 * The kill switch on a node over real HTTP (HLD §5.2, §5.3, §10.2): a run canceled or stopped while
 * its model call is in flight stops waiting for the model within seconds, instead of holding its
 * step worker (and its step message) until the model would have answered, and the call's budget
 * reservation is given back as soon.
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

async function runInModelCall(): Promise<string> {
  const created = await fetch(`${node.node.orchestratorUrl}/v1/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(scriptedInput('sample-agent', [{ reply: 'too late', delay_ms: 40_000 }])),
  });
  expect(created.status).toBe(201);
  // The model call is in flight once the Model Policy holds its reservation.
  await expect.poll(reservedTokens, { timeout: 20_000, interval: 200 }).toBeGreaterThan(0);
  return ((await created.json()) as { run_id: string }).run_id;
}

describe('canceling a run during its model call', { timeout: 60_000 }, () => {
  it('frees its step and its budget reservation within seconds, long before the model would have answered', async () => {
    const runId = await runInModelCall();
    const cancel = await fetch(`${node.node.orchestratorUrl}/v1/runs/${runId}:cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(cancel.status).toBe(200);
    // The step re-reads its run every 2 s during the call, and the Model Policy's invocation looks
    // for a stop request every 2 s: both well within 10 s of the 40 s call.
    await expect.poll(stepsOnTheQueue, { timeout: 10_000, interval: 250 }).toBe(0);
    await expect.poll(reservedTokens, { timeout: 10_000, interval: 250 }).toBe(0);
  });

  it("gives back the reservation of a run the operator's kill switch stops", async () => {
    const runId = await runInModelCall();
    const stop = await fetch(`${node.node.orchestratorUrl}/v1/admin/tenants/acme/runs:stop`, {
      method: 'POST',
      headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
      body: JSON.stringify({ run_ids: [runId], reason: 'runaway' }),
    });
    expect(stop.status).toBe(200);
    await expect.poll(reservedTokens, { timeout: 10_000, interval: 250 }).toBe(0);
    await expect.poll(stepsOnTheQueue, { timeout: 10_000, interval: 250 }).toBe(0);
  });
});
