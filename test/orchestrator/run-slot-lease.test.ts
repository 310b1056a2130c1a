import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentOsClient } from '../../cli/client/agentos-client.ts';
import { runSlotPools } from '../../functions/orchestrator/runtime/run-slots.ts';
import { defaultTenantScopes, scopes } from '../../functions/shared/auth/auth-context.ts';
import { DynamoSlotPool } from '../../functions/shared/limits/adapters/dynamo-slot-pool.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { testAwsConfig } from '../support/aws.ts';
import { operatorClient, startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';
import { scriptedInput, waitForRun } from '../support/run-events.ts';

/**
 * Run slots are leases (HLD §10.2): a worker that dies holding a run's slots never gives them back,
 * and the tenant's next run starts once the lease lapses instead of waiting forever. The dead worker
 * is simulated on the node's own DynamoDB slot pool: it takes the tenant's and the node's slot, as a
 * worker starting a run does, and is never heard of again.
 */
let node: TestNode;
let operator: AgentOsClient;
const db = createDocumentClient(testAwsConfig());

type RunView = { run_id: string; status: string; status_reason: string | null };

beforeAll(async () => {
  node = await startTestNode({
    functionEnv: { AGENTOS_TENANT_CACHE_SECONDS: '0', AGENTOS_NODE_MAX_CONCURRENT_RUNS: '1' },
  });
  operator = await operatorClient(node);
});

afterAll(async () => {
  db.destroy();
  await node.stop();
});

describe('a run slot held by a worker that died', () => {
  it("is taken back when its lease lapses: the tenant's next run waits for it, then starts and completes", async () => {
    await node.seed('acme');
    const patched = await operator.request('PATCH', '/v1/admin/tenants/acme', {
      body: { quotas: { max_concurrent_runs: 1, max_queued_runs: 5 } },
    });
    expect(patched.status).toBe(200);
    const acme = new AgentOsClient(
      node.node.orchestratorUrl,
      await node.auth.token('acme', { scopes: [...defaultTenantScopes, scopes.runsReadAll] }),
    );

    const pool = new DynamoSlotPool(db, node.resources.tableName);
    const crashed = 'run_01crashedworkerxxxxxxxxxx';
    // Long enough that the new run surely meets the held slot, short enough for a test.
    const leaseSeconds = 8;
    expect(await pool.acquire(runSlotPools.tenantRunning('acme'), crashed, 1, leaseSeconds)).toMatchObject({
      acquired: true,
    });
    expect(await pool.acquire(runSlotPools.nodeRunning(), crashed, 1, leaseSeconds)).toMatchObject({
      acquired: true,
    });

    const created = await acme.createRun(scriptedInput('sample-agent', [{ reply: 'after the lease' }]));
    expect(created.status).toBe(201);
    const runId = created.body.run_id;
    const seen = new Set<string>();
    const done = await waitForRun<RunView>(
      acme,
      runId,
      (run) => {
        seen.add(`${run.status}:${run.status_reason ?? ''}`);
        return ['completed', 'failed', 'canceled'].includes(run.status);
      },
      90_000,
    );

    expect(seen).toContain('queued:waiting_for_run_slot');
    expect(done).toMatchObject({ status: 'completed', status_reason: null });
    // The dead worker's slots are gone, and the finished run gave back its own.
    expect(await pool.holders(runSlotPools.tenantRunning('acme'))).toEqual([]);
    expect(await pool.holders(runSlotPools.nodeRunning())).toEqual([]);
  }, 120_000);
});
