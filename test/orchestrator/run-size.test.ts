import { describe, expect, it } from 'vitest';
import { DynamoRunStateStore } from '../../functions/orchestrator/adapters/dynamodb/dynamo-run-state.ts';
import type { AuthContext } from '../../functions/shared/auth/auth-context.ts';
import { systemClock } from '../../functions/shared/timing/clock.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';
import { runToolLoop, streamedSequences } from '../support/large-run-harness.ts';

const auth: AuthContext = {
  tenant_id: 'acme',
  principal: { id: 'user-1', type: 'user' },
  scopes: ['runs:read', 'runs:write'],
  policy_context: {},
};

describe('a run without a size ceiling, on DynamoDB', () => {
  it('completes a run of 500 steps and 5 MB of transcript, far past one item, and streams it gaplessly', async () => {
    const { resources } = await provisionTestNode('size');
    const runs = new DynamoRunStateStore(createDocumentClient(testAwsConfig()), resources.tableName);
    const { runId } = await runToolLoop(runs, auth, { toolSteps: 499, bytesPerStep: 10 * 1024 });
    const run = await runs.getRun(auth, runId);
    expect(run).toMatchObject({
      status: 'completed',
      steps_completed: 500,
      transcript_messages: 499 * 2 + 1,
    });
    expect(run!.transcript_bytes).toBeGreaterThan(5 * 1000 * 1000);
    expect(await streamedSequences(runs, auth, runId, systemClock)).toEqual(
      Array.from({ length: run!.last_sequence }, (_, i) => i + 1),
    );
    const transcript = await runs.readTranscript(auth, runId);
    expect(transcript).toHaveLength(run!.transcript_messages);
    expect(transcript.at(-1)).toEqual({ role: 'assistant', content: 'done' });
    const steps = await runs.listSteps(auth, runId, { after: 490, limit: 100 });
    expect(steps.map((s) => s.step)).toEqual(Array.from({ length: 10 }, (_, i) => i + 491));
  }, 600_000);
});
