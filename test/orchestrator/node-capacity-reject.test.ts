import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentOsClient } from '../../cli/client/agentos-client.ts';
import { defaultTenantScopes, scopes } from '../../functions/shared/auth/auth-context.ts';
import { operatorClient, startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';
import { scriptedInput, waitForRun } from '../support/run-events.ts';

/**
 * The node-wide cap in `reject` mode over real HTTP and the emulator (HLD §10.2): while the node
 * runs as many runs as it may, run creation answers 429 naming the node's limit, with Retry-After.
 */
let node: TestNode;
let operator: AgentOsClient;

type ErrorBody = { error: { code: string; message: string; details?: Record<string, unknown> } };

beforeAll(async () => {
  node = await startTestNode({
    functionEnv: { AGENTOS_NODE_MAX_CONCURRENT_RUNS: '1', AGENTOS_NODE_CAPACITY_MODE: 'reject' },
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

describe('a node at its capacity in reject mode', () => {
  it('refuses a new run with 429 naming the node limit and Retry-After, and accepts runs again once a slot frees', async () => {
    const [acme, globex] = [await clientOf('acme'), await clientOf('globex')];
    const first = await acme.createRun(scriptedInput('sample-agent', [{ reply: 'slow', delay_ms: 60_000 }]));
    expect(first.status).toBe(201);
    await waitForRun(acme, first.body.run_id, (run) => run.status === 'running');

    const refused = await globex.createRun(scriptedInput('sample-agent', [{ reply: 'b' }]));
    expect(refused.status).toBe(429);
    expect(refused.body as unknown as ErrorBody).toMatchObject({
      error: { code: 'rate_limited', details: { limit: 'node_concurrent_runs' } },
    });
    expect((refused.body as unknown as ErrorBody).error.message).toContain('node');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    const stop = await operator.request('POST', '/v1/admin/tenants/acme/runs:stop', {
      body: { run_ids: [first.body.run_id], reason: 'make room' },
    });
    expect(stop.status).toBe(200);
    const accepted = await globex.createRun(scriptedInput('sample-agent', [{ reply: 'c' }]));
    expect(accepted.status).toBe(201);
    const done = await waitForRun(globex, accepted.body.run_id, (run) => run.status === 'completed', 60_000);
    expect(done).toMatchObject({ status: 'completed' });
  }, 120_000);
});
