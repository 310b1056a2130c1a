import { describe, expect, it } from 'vitest';
import { InMemoryRunStateStore } from '../../../functions/orchestrator/adapters/in-memory/in-memory-run-state.ts';
import type { AuthContext } from '../../../functions/shared/auth/auth-context.ts';
import { runToolLoop, streamedSequences } from '../../support/large-run-harness.ts';

const auth: AuthContext = {
  tenant_id: 'acme',
  principal: { id: 'user-1', type: 'user' },
  scopes: ['runs:read', 'runs:write'],
  policy_context: {},
};

describe('a run without a size ceiling', () => {
  it('completes a run of 500 steps and 5 MB of transcript, and streams every event gaplessly', async () => {
    const runs = new InMemoryRunStateStore();
    const { runId } = await runToolLoop(runs, auth, { toolSteps: 499, bytesPerStep: 5400 });
    const run = await runs.getRun(auth, runId);
    expect(run).toMatchObject({
      status: 'completed',
      steps_completed: 500,
      transcript_messages: 499 * 2 + 1,
    });
    expect(run!.transcript_bytes).toBeGreaterThan(5 * 1024 * 1024);
    const sequences = await streamedSequences(runs, auth, runId);
    expect(sequences).toEqual(Array.from({ length: run!.last_sequence }, (_, i) => i + 1));
    const events = await runs.listEvents(auth, runId, { after: 0, limit: 10_000 });
    expect(events.filter((e) => e.type === 'step.completed')).toHaveLength(500);
    expect(events.at(-1)?.type).toBe('run.completed');
    const steps = await runs.listSteps(auth, runId, { after: 0, limit: 1000 });
    expect(steps.map((s) => s.step)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(steps.every((s) => s.status === 'completed')).toBe(true);
  });
});
