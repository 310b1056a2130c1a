import { describe, expect, it } from 'vitest';
import { followRunEvents } from '../../../functions/orchestrator/events/run-event-stream.ts';
import type { RunStatePort } from '../../../functions/orchestrator/ports/run-state-port.ts';
import type { RunEvent } from '../../../functions/orchestrator/schemas/event.ts';

const auth = {
  tenant_id: 'acme',
  principal: { id: 'u', type: 'user' as const },
  scopes: [],
  policy_context: {},
};

function event(sequence: number, type: RunEvent['type'] = 'step.started'): RunEvent {
  return {
    object: 'event',
    event_id: `e${sequence}`,
    run_id: 'run_x',
    sequence,
    type,
    time: '2026-01-01T00:00:00.000Z',
    data: {},
  };
}

/** A run log whose reads are scripted: each call to listEvents returns the next answer (then the last). */
function scriptedLog(answers: RunEvent[][]): RunStatePort {
  let call = 0;
  return {
    listEvents: async (_auth, _runId, page) => {
      const answer = answers[Math.min(call, answers.length - 1)] ?? [];
      call += 1;
      return answer.filter((e) => e.sequence > page.after).slice(0, page.limit);
    },
    createRun: () => Promise.reject(new Error('unused')),
    getRun: () => Promise.reject(new Error('unused')),
    commit: () => Promise.reject(new Error('unused')),
  };
}

async function frames(
  log: RunStatePort,
  options: { keepAliveMs?: number; stopAfter?: number; after?: number } = {},
) {
  const out: string[] = [];
  const controller = new AbortController();
  for await (const frame of followRunEvents({
    runs: log,
    auth,
    runId: 'run_x',
    after: options.after ?? 0,
    initialStatus: 'running',
    timing: {
      pollMinMs: 1,
      pollMaxMs: 5,
      keepAliveMs: options.keepAliveMs ?? 15_000,
      maxDurationMs: 60_000,
      retryMs: 1000,
    },
    signal: controller.signal,
  })) {
    out.push(frame);
    if (options.stopAfter !== undefined && out.length >= options.stopAfter) controller.abort();
  }
  return out;
}

describe('followRunEvents', () => {
  it('starts with a retry hint and frames each event with its sequence, type and JSON data', async () => {
    const out = await frames(scriptedLog([[event(1), event(2, 'run.completed')]]));
    expect(out[0]).toBe('retry: 1000\n\n');
    expect(out[1]).toBe(`id: 1\nevent: step.started\ndata: ${JSON.stringify(event(1))}\n\n`);
    expect(out).toHaveLength(3);
  });

  it('never skips an event that becomes visible after a later one of the same commit', async () => {
    const out = await frames(
      scriptedLog([
        [event(1), event(3)],
        [event(1), event(2), event(3), event(4, 'run.completed')],
      ]),
    );
    expect(out.filter((f) => f.startsWith('id:')).map((f) => f.split('\n')[0])).toEqual([
      'id: 1',
      'id: 2',
      'id: 3',
      'id: 4',
    ]);
  });

  it('resumes after the given sequence', async () => {
    const out = await frames(scriptedLog([[event(1), event(2), event(3, 'run.failed')]]), { after: 2 });
    expect(out.filter((f) => f.startsWith('id:')).map((f) => f.split('\n')[0])).toEqual(['id: 3']);
  });

  it('sends keep-alive comments while the run is quiet', async () => {
    const out = await frames(scriptedLog([[]]), { keepAliveMs: 1000, stopAfter: 3 });
    expect(out.slice(1)).toEqual([': keep-alive\n\n', ': keep-alive\n\n']);
  });
});
