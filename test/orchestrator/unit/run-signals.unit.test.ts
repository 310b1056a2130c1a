import { describe, expect, it } from 'vitest';
import { RunEventHub } from '../../../functions/orchestrator/events/run-event-hub.ts';
import { RunSignals, signallingSink } from '../../../functions/orchestrator/events/run-signals.ts';
import type { RunStatePort } from '../../../functions/orchestrator/ports/run-state-port.ts';
import type { RunEvent } from '../../../functions/orchestrator/schemas/event.ts';
import { ManualClock } from '../../support/manual-clock.ts';
import { followerAuth, runEvent } from '../../support/run-event-fixtures.ts';

const auth = followerAuth;
const event = runEvent;

/** A run's log that counts its reads. */
function countedLog() {
  const stored: RunEvent[] = [];
  let reads = 0;
  const unused = () => Promise.reject(new Error('unused'));
  const runs: RunStatePort = {
    listEvents: async (_auth, _runId, page) => {
      reads += 1;
      return stored.filter((e) => e.sequence > page.after).slice(0, page.limit);
    },
    createRun: unused,
    findIdempotentRun: unused,
    getRun: unused,
    commit: unused,
    getEvents: unused,
    readTranscript: unused,
    listSteps: unused,
    listRuns: unused,
  };
  return { runs, stored, reads: () => reads };
}

const timing = { pollMinMs: 50, pollMaxMs: 2_000, keepAliveMs: 15_000, maxDurationMs: 60_000, retryMs: 1000 };

/**
 * Follows run_x while a writer commits one event a second for five seconds, then the terminal one,
 * signalling each when `signals` is given; answers when each event was first seen and the reads made.
 */
async function follow(signals?: RunSignals, handOver = false) {
  const clock = new ManualClock();
  const start = clock.now();
  const log = countedLog();
  const hub = new RunEventHub({
    runs: log.runs,
    timing,
    clock,
    ...(signals === undefined ? {} : { signals }),
  });
  const { tail, close } = hub.subscribe(auth, 'run_x', 0);
  const writer = (async () => {
    for (let sequence = 1; sequence <= 6; sequence += 1) {
      await clock.sleep(1_000);
      const stored = event(sequence, sequence === 6 ? 'run.completed' : 'step.started');
      log.stored.push(stored);
      signals?.signal('acme', 'run_x', handOver ? [stored] : undefined);
    }
  })();
  const seenAt: number[] = [];
  while (seenAt.length < 6) {
    const seen = tail.version;
    const events = tail.eventsAfter(seenAt.length) ?? [];
    seenAt.push(...events.map(() => clock.now() - start));
    if (seenAt.length < 6) await tail.changed(seen, 60_000, new AbortController().signal);
  }
  await writer;
  close();
  return { seenAt, reads: log.reads() };
}

describe('run signals', () => {
  it('returns each event the moment its commit signals it, with one read per signal and idle reads between', async () => {
    const signals = new RunSignals();
    const { seenAt, reads } = await follow(signals);
    expect(seenAt).toEqual([1_000, 2_000, 3_000, 4_000, 5_000, 6_000]);
    // The first read, the backing-off polls of its first second (nothing signalled yet), then one
    // read per signal: no fast polls after an event the signals announce.
    expect(reads).toBeLessThanOrEqual(1 + 5 + 6);
    expect(signals.followed()).toBe(0);
  });

  it('returns each event the moment its commit hands it over, reading the store only when idle', async () => {
    const signals = new RunSignals();
    const handed = await follow(signals, true);
    const signalled = await follow(new RunSignals());
    expect(handed.seenAt).toEqual([1_000, 2_000, 3_000, 4_000, 5_000, 6_000]);
    // The first read and the backing-off polls of its first second, then an idle read every two
    // seconds at most: no read per commit.
    expect(handed.reads).toBeLessThanOrEqual(1 + 5 + 3);
    expect(handed.reads).toBeLessThan(signalled.reads);
    expect(signals.followed()).toBe(0);
  });

  it('reads the store at once when a commit hands over events after a gap', async () => {
    const clock = new ManualClock();
    const log = countedLog();
    const signals = new RunSignals();
    const hub = new RunEventHub({ runs: log.runs, timing, clock, signals });
    const { tail, close } = hub.subscribe(auth, 'run_x', 0);
    await clock.sleep(10_000);
    const readsBefore = log.reads();
    log.stored.push(event(1), event(2), event(3));
    // Events 1 and 2 were committed elsewhere: only 3 is handed over.
    signals.signal('acme', 'run_x', [event(3)]);
    while ((tail.eventsAfter(0) ?? []).length < 3)
      await tail.changed(tail.version, 60_000, new AbortController().signal);
    expect(tail.eventsAfter(0)!.map((e) => e.sequence)).toEqual([1, 2, 3]);
    expect(log.reads()).toBe(readsBefore + 1);
    close();
  });

  it('passes on handed-over events it already holds once, and ends at a handed-over terminal event', async () => {
    const clock = new ManualClock();
    const log = countedLog();
    const signals = new RunSignals();
    const hub = new RunEventHub({ runs: log.runs, timing, clock, signals });
    const { tail, close } = hub.subscribe(auth, 'run_x', 0);
    await clock.sleep(10_000);
    log.stored.push(event(1), event(2));
    signals.signal('acme', 'run_x', [event(1), event(2)]);
    signals.signal('acme', 'run_x', [event(2)]);
    log.stored.push(event(3, 'run.completed'));
    signals.signal('acme', 'run_x', [event(2), event(3, 'run.completed')]);
    expect(tail.eventsAfter(0)!.map((e) => e.sequence)).toEqual([1, 2, 3]);
    expect(tail.terminal).toBe(true);
    await clock.sleep(1);
    // The reader stopped listening as soon as the terminal event came.
    expect(signals.followed()).toBe(0);
    close();
  });

  it('returns the same events, polling fast after each, when no signal comes', async () => {
    const { seenAt, reads } = await follow();
    expect(seenAt).toHaveLength(6);
    expect(reads).toBeGreaterThan(1 + 5 + 6);
  });

  it('signals the runs of published events with their events in order, for their tenant only', async () => {
    const signals = new RunSignals();
    const heard: string[] = [];
    const stopAcme = signals.listen('acme', 'run_x', (events) =>
      heard.push(`acme:${(events ?? []).map((e) => e.event_id).join(',')}`),
    );
    signals.listen('other', 'run_x', () => heard.push('other'));
    const published: string[] = [];
    const sink = signallingSink(
      { publish: async (_a, events) => void published.push(...events.map((e) => e.event_id)) },
      signals,
    );
    await sink.publish(auth, [event(2), event(1)]);
    expect(heard).toEqual(['acme:e1,e2']);
    expect(published).toEqual(['e2', 'e1']);
    stopAcme();
    expect(signals.followed()).toBe(1);
  });
});
