import { describe, expect, it } from 'vitest';
import {
  contextIdOf,
  eventToStatusUpdate,
  runToTask,
  taskState,
} from '../../../functions/orchestrator/api/a2a-mapping.ts';
import type { RunEvent } from '../../../functions/orchestrator/schemas/event.ts';
import type { Run } from '../../../functions/orchestrator/schemas/run.ts';

const runId = 'run_0123456789abcdefghijklmnop';

function event(type: RunEvent['type'], sequence: number, data: Record<string, unknown>): RunEvent {
  return {
    object: 'event',
    event_id: `${runId}-${sequence}`,
    run_id: runId,
    sequence,
    time: '2026-01-01T00:00:00.000Z',
    type,
    data,
  } as RunEvent;
}

const run: Run = {
  object: 'run',
  run_id: runId,
  agent_id: 'helper',
  agent_version: 2,
  mode: 'standard',
  status: 'completed',
  input: { messages: [{ role: 'user', content: 'hi' }] },
  output: { message: { role: 'assistant', content: 'hello' } },
  error: null,
  steps_completed: 1,
  last_sequence: 5,
  usage: { prompt_tokens: 1, completion_tokens: 1, cost_usd: 0 },
  metadata: { 'a2a.message_id': 'm-1', 'a2a.context_id': 'ctx-1' },
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:01.000Z',
  started_at: '2026-01-01T00:00:00.000Z',
  ended_at: '2026-01-01T00:00:01.000Z',
  status_reason: null,
  events_url: `/v1/runs/${runId}/events`,
};

describe('A2A mapping', () => {
  it('returns the task state of each run status', () => {
    expect(
      ['queued', 'running', 'completed', 'failed', 'canceled'].map((s) => taskState(s as Run['status'])),
    ).toEqual(['submitted', 'working', 'completed', 'failed', 'canceled']);
  });

  it('returns a completed run as a task with its answer as artifact and status message, in its context', () => {
    const task = runToTask(run);
    expect(task).toMatchObject({
      kind: 'task',
      id: runId,
      contextId: 'ctx-1',
      status: { state: 'completed', message: { role: 'agent', parts: [{ kind: 'text', text: 'hello' }] } },
      artifacts: [{ artifactId: 'answer', parts: [{ kind: 'text', text: 'hello' }] }],
      history: [{ messageId: 'm-1', role: 'user', parts: [{ kind: 'text', text: 'hi' }] }],
    });
  });

  it('returns the run id as the context of a run whose message named none', () => {
    expect(contextIdOf({ run_id: runId, metadata: {} })).toBe(runId);
  });

  it('returns one status update per event, final only on the terminal one', () => {
    const updates = [
      event('run.queued', 1, { agent_id: 'helper', status: 'queued' }),
      event('run.started', 2, { status: 'running' }),
      event('step.completed', 3, { step: 1, finish_reason: 'stop' }),
      event('run.failed', 4, { status: 'failed', error: { code: 'model_error', message: 'no model' } }),
    ].map((e) => eventToStatusUpdate(e, 'ctx-1'));
    expect(updates.map((u) => [u.status.state, u.final, u.metadata.sequence])).toEqual([
      ['submitted', false, 1],
      ['working', false, 2],
      ['working', false, 3],
      ['failed', true, 4],
    ]);
    expect(updates[3]?.status.message?.parts).toEqual([{ kind: 'text', text: 'no model' }]);
    expect(
      updates.every((u) => u.kind === 'status-update' && u.taskId === runId && u.contextId === 'ctx-1'),
    ).toBe(true);
  });

  it('returns the answer as the message of the final update of a completed run', () => {
    const update = eventToStatusUpdate(
      event('run.completed', 5, {
        status: 'completed',
        output: { message: { role: 'assistant', content: 'done' } },
      }),
      runId,
    );
    expect(update).toMatchObject({
      final: true,
      status: { state: 'completed', message: { parts: [{ text: 'done' }] } },
    });
  });
});
