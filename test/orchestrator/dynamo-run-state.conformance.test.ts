import { describe, expect, it, vi } from 'vitest';
import { newEvent } from '../../functions/orchestrator/schemas/event.ts';
import type { AuthContext } from '../../functions/shared/auth/auth-context.ts';
import { DynamoRunStateStore } from '../../functions/orchestrator/adapters/dynamodb/dynamo-run-state.ts';
import { DynamoRateLimiter } from '../../functions/shared/limits/adapters/dynamo-rate-limiter.ts';
import { InMemoryRateLimiter } from '../../functions/shared/limits/adapters/in-memory-limits.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { runRecord, runStatePortConformance } from '../conformance/run-state-port.case.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';

const table = provisionTestNode('runstate').then(({ resources }) => resources.tableName);
const db = createDocumentClient(testAwsConfig());
runStatePortConformance('DynamoDB', async () => new DynamoRunStateStore(db, await table), {
  // Its own kind: the take rides in the creating transaction.
  'a DynamoDB limiter on the same table': async () => new DynamoRateLimiter(db, await table),
  // Another kind: taken before the creating transaction.
  'an in-memory limiter': async () => new InMemoryRateLimiter(),
});

describe('DynamoDB run creation with the run rate in its transaction', () => {
  const bucketOf = (tenant: string) => ({
    key: `tenant/${tenant}/limits/run-rate`,
    limit: { rate: 1, periodSeconds: 3_600, burst: 2 },
  });
  const authOf = (tenant: string): AuthContext => ({
    tenant_id: tenant,
    principal: { id: `user-${tenant}`, type: 'user' },
    scopes: [],
    policy_context: {},
  });
  const queuedEvent = (runId: string) =>
    newEvent(`${runId}:run.queued`, 'run.queued', { agent_id: 'agent', status: 'queued' });

  it('plans its take again from what the bucket holds when another instance moved it, and refuses past it', async () => {
    const store = new DynamoRunStateStore(db, await table);
    const mine = new DynamoRateLimiter(db, await table);
    const other = new DynamoRateLimiter(db, await table);
    const tenant = `t${crypto.randomUUID().slice(0, 8)}`;
    const bucket = bucketOf(tenant);
    const first = runRecord(tenant);
    expect(
      await store.createRun(authOf(tenant), first, [queuedEvent(first.run_id)], undefined, {
        bucket,
        limiter: mine,
      }),
    ).toMatchObject({ outcome: 'created', rate: { remaining: 1 } });
    // Another instance takes the last token; this one still believes one is left.
    expect(await other.take(bucket.key, bucket.limit)).toMatchObject({ allowed: true, remaining: 0 });
    const second = runRecord(tenant);
    // Refused by the re-planned take, not by a take on its own.
    const alone = vi.spyOn(mine, 'take');
    const refused = await store.createRun(authOf(tenant), second, [queuedEvent(second.run_id)], undefined, {
      bucket,
      limiter: mine,
    });
    expect(refused).toMatchObject({ outcome: 'rate_limited', rate: { allowed: false } });
    expect(await store.getRun(authOf(tenant), second.run_id)).toBeUndefined();
    expect(alone).not.toHaveBeenCalled();
  });
});
