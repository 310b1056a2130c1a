import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoRunStateStore } from '../../functions/orchestrator/adapters/dynamodb/dynamo-run-state.ts';
import { newEvent } from '../../functions/orchestrator/schemas/event.ts';
import type { AuthContext } from '../../functions/shared/auth/auth-context.ts';
import { DependencyUnavailableError } from '../../functions/shared/errors/agentos-error.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { storageKeys } from '../../functions/shared/storage/keys.ts';
import { runRecord, stepMessages, stepRecordOf } from '../conformance/run-state-port.case.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';

/**
 * The DynamoDB run state across item shapes: a run whose run item is visible before its body item
 * (a read outside the creating transaction), and a run stored before the body item existed, with
 * its input, metadata and Auth Context on the run item.
 */
const db = createDocumentClient(testAwsConfig());
const table = provisionTestNode('runshape').then(({ resources }) => resources.tableName);
/** A fresh store each time: no run item cached from the creation. */
const store = async () => new DynamoRunStateStore(db, await table);

const runSortKey = 0;
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

async function item(pk: string, sk: number): Promise<Record<string, unknown> | undefined> {
  return (await db.send(new GetCommand({ TableName: await table, Key: { pk, sk }, ConsistentRead: true })))
    .Item;
}

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

  it('returns, lists and runs a run stored as one run item before the body item existed', async () => {
    const t = tenant();
    const auth = authFor(t);
    const run = runRecord(t);
    await (await store()).createRun(auth, run, [queued(run.run_id)]);
    // Rewritten as the code before the body item stored it: one run item holding every field.
    const pk = storageKeys.run(t, run.run_id);
    const head = await item(pk, runSortKey);
    const body = await item(pk, bodySortKey);
    expect(head?.['input']).toBeUndefined();
    const old = { ...head, input: body?.['input'], metadata: body?.['metadata'], auth: body?.['auth'] };
    await db.send(new PutCommand({ TableName: await table, Item: old }));
    await db.send(new DeleteCommand({ TableName: await table, Key: { pk, sk: bodySortKey } }));

    const port = await store();
    expect(await port.getRun(auth, run.run_id)).toEqual({ ...run, last_sequence: 1 });
    expect((await port.listRuns(auth, { limit: 10 })).runs.map((r) => r.run_id)).toEqual([run.run_id]);
    const messages = stepMessages(1, 2);
    const started = await port.commit(auth, run.run_id, {
      requireStatus: ['queued'],
      status: 'running',
      events: [newEvent(`${run.run_id}:s1:step.started`, 'step.started', { step: 1 })],
      appendTranscript: messages,
      step: stepRecordOf(run.run_id, 1),
    });
    expect(started.run).toMatchObject({ status: 'running', input: run.input, auth: run.auth });
    const fresh = await store();
    expect(await fresh.getRun(auth, run.run_id)).toMatchObject({
      status: 'running',
      input: run.input,
      metadata: run.metadata,
      auth: run.auth,
      transcript_messages: messages.length,
    });
    expect(await fresh.readTranscript(auth, run.run_id)).toEqual(messages);
    expect(await fresh.listSteps(auth, run.run_id, { after: 0, limit: 10 })).toHaveLength(1);
    // Still one run item: the commit did not move the old run's fields.
    expect(await item(pk, bodySortKey)).toBeUndefined();
  });
});
