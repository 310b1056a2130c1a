import { describe, expect, it } from 'vitest';
import { DynamoRunStateStore } from '../../functions/orchestrator/adapters/dynamodb/dynamo-run-state.ts';
import { InMemoryRunStateStore } from '../../functions/orchestrator/adapters/in-memory/in-memory-run-state.ts';
import {
  maxRunRecordBytes,
  maxStepTranscriptBytes,
  RunTooLargeError,
} from '../../functions/orchestrator/ports/run-state-port.ts';
import type { RunRecord, RunStatePort } from '../../functions/orchestrator/ports/run-state-port.ts';
import { newEvent } from '../../functions/orchestrator/schemas/event.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { runRecord, stepMessages } from '../conformance/run-state-port.case.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';

const auth = {
  tenant_id: 'acme',
  principal: { id: 'u', type: 'user' as const },
  scopes: [],
  policy_context: {},
};
// One record for both adapters, so any difference in what they accept or report is the adapters'.
const run: RunRecord = { ...runRecord('acme'), metadata: { source: 'parity' } };
const limit = 2 * 1024 * 1024;

type Outcome = { bytes: number; limit: number; limitName: string } | { transcript_bytes: number };

/**
 * What an adapter does with: an oversized input, a transcript grown past the caller's limit (after
 * 1.5 MB of steps, far past one item), and one step appending more than a commit can hold.
 */
async function outcomes(port: RunStatePort): Promise<Outcome[]> {
  const seen: Outcome[] = [];
  const refused = (error: unknown) => {
    expect(error).toBeInstanceOf(RunTooLargeError);
    const { bytes, limit: max, limitName } = error as RunTooLargeError;
    seen.push({ bytes, limit: max, limitName });
  };
  const huge = { messages: [{ role: 'user' as const, content: 'é'.repeat(maxRunRecordBytes / 2) }] };
  await port.createRun(auth, { ...run, input: huge }, []).then(() => expect.fail('created'), refused);
  const queued = newEvent(`${run.run_id}:run.queued`, 'run.queued', { agent_id: 'agent', status: 'queued' });
  await port.createRun(auth, run, [queued]);
  const step = (n: number, size: number) =>
    port.commit(auth, run.run_id, {
      requireStatus: ['queued'],
      events: [
        newEvent(`${run.run_id}:s${n}:step.completed`, 'step.completed', { step: n, finish_reason: 'x' }),
      ],
      appendTranscript: stepMessages(n, size, 'é'),
      maxTranscriptBytes: limit,
    });
  for (let n = 1; n <= 3; n += 1) {
    const result = await step(n, 250_000);
    seen.push({ transcript_bytes: result.run.transcript_bytes });
  }
  await step(4, 300_000).then(() => expect.fail('committed past the limit'), refused);
  await port
    .commit(auth, run.run_id, {
      requireStatus: ['queued'],
      events: [],
      appendTranscript: stepMessages(5, maxStepTranscriptBytes / 2 + 1, 'é'),
    })
    .then(() => expect.fail('committed past the per-step limit'), refused);
  const stored = await port.getRun(auth, run.run_id);
  seen.push({ transcript_bytes: stored!.transcript_bytes });
  return seen;
}

// The size limits are one rule on every adapter: the same run is accepted and refused at the same sizes.
describe('the run size limits', () => {
  it('accept and refuse the same run at the same measured sizes in memory and on DynamoDB', async () => {
    const { resources } = await provisionTestNode('size');
    const dynamo = new DynamoRunStateStore(createDocumentClient(testAwsConfig()), resources.tableName);
    const fromDynamo = await outcomes(dynamo);
    expect(fromDynamo).toMatchObject([
      { limit: maxRunRecordBytes, limitName: 'run record limit' },
      {},
      {},
      {},
      { limit, limitName: 'max_transcript_bytes' },
      { limit: maxStepTranscriptBytes, limitName: 'per-step transcript limit' },
      {},
    ]);
    expect(fromDynamo.at(-1)).toEqual(fromDynamo.at(-4));
    expect(await outcomes(new InMemoryRunStateStore())).toEqual(fromDynamo);
    const transcript = await dynamo.readTranscript(auth, run.run_id);
    expect(transcript).toEqual([1, 2, 3].flatMap((n) => stepMessages(n, 250_000, 'é')));
  });
});
