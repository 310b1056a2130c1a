import { describe, expect, it } from 'vitest';
import { DynamoRunStateStore } from '../../functions/orchestrator/adapters/dynamodb/dynamo-run-state.ts';
import { InMemoryRunStateStore } from '../../functions/orchestrator/adapters/in-memory/in-memory-run-state.ts';
import { maxRunRecordBytes, RunTooLargeError } from '../../functions/orchestrator/ports/run-state-port.ts';
import type { RunRecord, RunStatePort } from '../../functions/orchestrator/ports/run-state-port.ts';
import { newEvent } from '../../functions/orchestrator/schemas/event.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { runRecord } from '../conformance/run-state-port.case.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';

const auth = {
  tenant_id: 'acme',
  principal: { id: 'u', type: 'user' as const },
  scopes: [],
  policy_context: {},
};
// One record for both adapters, so any difference in the measured size is the adapters'.
const run: RunRecord = { ...runRecord('acme'), metadata: { source: 'parity' }, transcript: [] };

/** The size an adapter reports for one oversized creation and one oversized commit of `run`. */
async function reportedSizes(port: RunStatePort): Promise<number[]> {
  const huge = [{ role: 'assistant' as const, content: 'é'.repeat(maxRunRecordBytes / 2) }];
  const sizes: number[] = [];
  const refused = (error: unknown) => {
    expect(error).toBeInstanceOf(RunTooLargeError);
    sizes.push((error as RunTooLargeError).bytes);
  };
  await port.createRun(auth, { ...run, transcript: huge }, []).then(() => expect.fail('created'), refused);
  const queued = newEvent(`${run.run_id}:run.queued`, 'run.queued', { agent_id: 'agent', status: 'queued' });
  await port.createRun(auth, run, [queued]);
  const started = newEvent(`${run.run_id}:s1:step.started`, 'step.started', { step: 1 });
  await port
    .commit(auth, run.run_id, { requireStatus: ['queued'], changes: { transcript: huge }, events: [started] })
    .then(() => expect.fail('committed'), refused);
  return sizes;
}

// The size ceiling is one rule on every adapter: the same run is refused at the same measured size.
describe('the run size ceiling', () => {
  it('measures a run the same way in memory as on DynamoDB', async () => {
    const { resources } = await provisionTestNode('size');
    const dynamo = new DynamoRunStateStore(createDocumentClient(testAwsConfig()), resources.tableName);
    const fromDynamo = await reportedSizes(dynamo);
    expect(fromDynamo.every((bytes) => bytes > maxRunRecordBytes)).toBe(true);
    expect(await reportedSizes(new InMemoryRunStateStore())).toEqual(fromDynamo);
  });
});
