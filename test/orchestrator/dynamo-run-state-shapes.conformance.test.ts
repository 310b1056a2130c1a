import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoRunStateStore } from '../../functions/orchestrator/adapters/dynamodb/dynamo-run-state.ts';
import { newEvent } from '../../functions/orchestrator/schemas/event.ts';
import type { AuthContext } from '../../functions/shared/auth/auth-context.ts';
import { DependencyUnavailableError } from '../../functions/shared/errors/agentos-error.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { storageKeys } from '../../functions/shared/storage/keys.ts';
import { runRecord } from '../conformance/run-state-port.case.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';

/**
 * The DynamoDB run state across item shapes: a run whose run item is visible before its body item
 * (a read outside the creating transaction).
 */
const db = createDocumentClient(testAwsConfig());
const table = provisionTestNode('runshape').then(({ resources }) => resources.tableName);
/** A fresh store each time: no run item cached from the creation. */
const store = async () => new DynamoRunStateStore(db, await table);

const bodySortKey = -1;

function authFor(tenant: string): AuthContext {
  return {
    tenant_id: tenant,
    principal: { id: `user-${tenant}`, type: 'user' },
    scopes: [],
    policy_context: {},
  };
}

const tenant = () => `t${crypto.randomUUID().slice(0, 8)}`;
const queued = (runId: string) =>
  newEvent(`${runId}:run.queued`, 'run.queued', { agent_id: 'agent', status: 'queued' });
const claim = (scope: string) => ({
  scopeHash: scope,
  requestHash: 'body',
  expiresAt: Math.floor(Date.now() / 1000) + 86_400,
});

describe('DynamoDB run state item shapes', () => {
  it('returns no run, lists none and answers a replay as retryable while only the run item is visible', async () => {
    const t = tenant();
    const run = runRecord(t);
    await (await store()).createRun(authFor(t), run, [queued(run.run_id)], claim('scope-h'));
    // What a read outside the creating transaction may see: the run item without its body item.
    const pk = storageKeys.run(t, run.run_id);
    await db.send(new DeleteCommand({ TableName: await table, Key: { pk, sk: bodySortKey } }));
    const port = await store();
    expect(await port.getRun(authFor(t), run.run_id)).toBeUndefined();
    expect((await port.listRuns(authFor(t), { limit: 10 })).runs).toEqual([]);
    await expect(
      port.findIdempotentRun(authFor(t), claim('scope-h'), new Date().toISOString()),
    ).rejects.toBeInstanceOf(DependencyUnavailableError);
  });
});
