import { describe, expect, it } from 'vitest';
import { followRunEvents } from '../../../functions/orchestrator/events/run-event-stream.ts';
import type { RunStatePort } from '../../../functions/orchestrator/ports/run-state-port.ts';
import type { RunEvent } from '../../../functions/orchestrator/schemas/event.ts';
import { ManualClock } from '../../support/manual-clock.ts';
import { followerAuth, runEvent } from '../../support/run-event-fixtures.ts';
import { RunEventHub } from '../../../functions/orchestrator/events/run-event-hub.ts';
import type { RunStatus } from '../../../functions/orchestrator/schemas/run.ts';

const auth = followerAuth;
const event = runEvent;

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
    findIdempotentRun: () => Promise.reject(new Error('unused')),
    getRun: () => Promise.reject(new Error('unused')),
    commit: () => Promise.reject(new Error('unused')),
    getEvents: () => Promise.reject(new Error('unused')),
    readTranscript: () => Promise.reject(new Error('unused')),
    listSteps: () => Promise.reject(new Error('unused')),
    listRuns: () => Promise.reject(new Error('unused')),
  };
}

async function frames(
  log: RunStatePort,
  options: {
    keepAliveMs?: number;
    maxDurationMs?: number;
    stopAfter?: number;
    after?: number;
    clock?: ManualClock;
    hub?: RunEventHub;
    initialStatus?: RunStatus;
    /** Virtual time the client takes to read each frame. */
    readMs?: number;
  } = {},
) {
  const out: string[] = [];
  const controller = new AbortController();
  const clock = options.clock ?? new ManualClock();
  const timing = {
    pollMinMs: 1,
    pollMaxMs: 5,
    keepAliveMs: options.keepAliveMs ?? 15_000,
    maxDurationMs: options.maxDurationMs ?? 60_000,
    retryMs: 1000,
  };
  const hub = options.hub ?? new RunEventHub({ runs: log, timing, clock });
  const after = options.after ?? 0;
  for await (const frame of followRunEvents({
    runs: log,
    subscription: hub.subscribe(auth, 'run_x', after),
    auth,
    runId: 'run_x',
    after,
    initialStatus: options.initialStatus ?? 'running',
    timing,
    signal: controller.signal,
    clock,
  })) {
    out.push(frame);
    if (options.readMs !== undefined) await clock.sleep(options.readMs);
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

  it('sends keep-alive comments while the run is quiet, never letting the interval pass', async () => {
    const clock = new ManualClock();
    const started = clock.now();
    const out = await frames(scriptedLog([[]]), { keepAliveMs: 15_000, stopAfter: 3, clock });
    expect(out.slice(1)).toEqual([': keep-alive\n\n', ': keep-alive\n\n']);
    // Two keep-alives, each 500 ms before its 15 s interval ends.
    expect(clock.now() - started).toBe(2 * 14_500);
  });

  it('backs its polls off from the busy interval to the idle one while nothing happens', async () => {
    const clock = new ManualClock();
    const reads: number[] = [];
    const log = scriptedLog([[]]);
    const listEvents = log.listEvents.bind(log);
    log.listEvents = (...args) => {
      reads.push(clock.now());
      return listEvents(...args);
    };
    await frames(log, { keepAliveMs: 15_000, stopAfter: 2, clock });
    const gaps = reads.slice(1, 6).map((at, index) => at - reads[index]!);
    expect(gaps).toEqual([2, 4, 5, 5, 5]);
  });

  it('sends an event that arrived while the client was still reading the previous one without waiting for the keep-alive', async () => {
    const clock = new ManualClock();
    const started = clock.now();
    const log = scriptedLog([[event(1)]]);
    // The run ends 1.5 s in: after the stream sent event 1, while its client is still reading it.
    log.listEvents = async (_auth, _runId, page) =>
      (clock.now() - started < 1_500 ? [event(1)] : [event(1), event(2, 'run.completed')]).filter(
        (e) => e.sequence > page.after,
      );
    const out = await frames(log, { clock, readMs: 1_000 });
    expect(out.filter((f) => f.startsWith('id:'))).toHaveLength(2);
    // The reader saw the end during the first read; the stream must not sleep past it.
    expect(clock.now() - started).toBeLessThan(5_000);
  });

  it('shares one reader among the streams of one run', async () => {
    const clock = new ManualClock();
    let reads = 0;
    const log = scriptedLog([
      [event(1)],
      [event(1), event(2)],
      [event(1), event(2), event(3, 'run.completed')],
    ]);
    const listEvents = log.listEvents.bind(log);
    log.listEvents = (...args) => {
      reads += 1;
      return listEvents(...args);
    };
    const timing = { pollMinMs: 1, pollMaxMs: 5, keepAliveMs: 15_000, maxDurationMs: 60_000, retryMs: 1000 };
    const hub = new RunEventHub({ runs: log, timing, clock });
    const streams = await Promise.all(Array.from({ length: 50 }, () => frames(log, { clock, hub })));
    for (const out of streams) expect(out.filter((f) => f.startsWith('id:'))).toHaveLength(3);
    expect(reads).toBeLessThan(10);
    expect(hub.openStreams()).toBe(0);
  });

  it('throws rate_limited once the tenant has as many streams open as allowed', async () => {
    const timing = { pollMinMs: 1, pollMaxMs: 5, keepAliveMs: 15_000, maxDurationMs: 60_000, retryMs: 1000 };
    const hub = new RunEventHub({
      runs: scriptedLog([[]]),
      timing,
      clock: new ManualClock(),
      limits: { maxStreams: 10, maxStreamsPerTenant: 2, bufferedEvents: 100 },
    });
    const first = hub.subscribe(auth, 'run_x', 0);
    hub.subscribe(auth, 'run_y', 0);
    expect(() => hub.subscribe(auth, 'run_z', 0)).toThrow(
      expect.objectContaining({
        code: 'rate_limited',
        details: { limit: 'tenant_sse_connections', retry_after_seconds: 5 },
      }),
    );
    expect(hub.subscribe({ ...auth, tenant_id: 'other' }, 'run_x', 0)).toBeDefined();
    first.close();
    first.close();
    expect(hub.openStreams('acme')).toBe(1);
    expect(hub.subscribe(auth, 'run_z', 0)).toBeDefined();
  });

  it('throws rate_limited naming node_sse_connections once the process serves as many streams as allowed', async () => {
    const timing = { pollMinMs: 1, pollMaxMs: 5, keepAliveMs: 15_000, maxDurationMs: 60_000, retryMs: 1000 };
    const hub = new RunEventHub({
      runs: scriptedLog([[]]),
      timing,
      clock: new ManualClock(),
      limits: { maxStreams: 2, maxStreamsPerTenant: 10, bufferedEvents: 100 },
    });
    hub.subscribe(auth, 'run_x', 0);
    const second = hub.subscribe({ ...auth, tenant_id: 'other' }, 'run_y', 0);
    expect(() => hub.subscribe({ ...auth, tenant_id: 'third' }, 'run_z', 0)).toThrow(
      expect.objectContaining({
        code: 'rate_limited',
        details: { limit: 'node_sse_connections', retry_after_seconds: 5 },
        headers: {},
      }),
    );
    second.close();
    expect(hub.subscribe({ ...auth, tenant_id: 'third' }, 'run_z', 0)).toBeDefined();
  });

  it('catches a stream that is behind the shared reader up from the store', async () => {
    const clock = new ManualClock();
    const log = scriptedLog([[event(1), event(2), event(3), event(4, 'run.completed')]]);
    const timing = { pollMinMs: 1, pollMaxMs: 5, keepAliveMs: 15_000, maxDurationMs: 60_000, retryMs: 1000 };
    const hub = new RunEventHub({ runs: log, timing, clock });
    // The reader starts after 3, where the first client was; the second comes from the start.
    const late = frames(log, { clock, hub, after: 3 });
    const early = frames(log, { clock, hub, after: 0 });
    expect((await late).filter((f) => f.startsWith('id:'))).toHaveLength(1);
    expect((await early).filter((f) => f.startsWith('id:'))).toHaveLength(4);
  });

  it('ends at once for a run that had finished before the client came back after its end', async () => {
    const out = await frames(scriptedLog([[event(1), event(2, 'run.completed')]]), {
      after: 2,
      initialStatus: 'completed',
    });
    expect(out).toEqual(['retry: 1000\n\n']);
  });

  it('ends a quiet stream when its time is up, so clients reconnect before the function times out', async () => {
    const clock = new ManualClock();
    const started = clock.now();
    const out = await frames(scriptedLog([[event(1)]]), {
      keepAliveMs: 15_000,
      maxDurationMs: 40_000,
      clock,
    });
    expect(out.filter((f) => f.startsWith('id:'))).toHaveLength(1);
    expect(out.filter((f) => f.startsWith(':'))).toHaveLength(2);
    expect(clock.now() - started).toBeGreaterThanOrEqual(40_000);
    expect(clock.now() - started).toBeLessThan(40_000 + 15_000);
  });
});
