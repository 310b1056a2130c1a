import { describe, expect, it, vi } from 'vitest';
import { RunEventHub } from '../../../functions/orchestrator/events/run-event-hub.ts';
import { RunSignals, signallingSink } from '../../../functions/orchestrator/events/run-signals.ts';
import type { RunStatePort } from '../../../functions/orchestrator/ports/run-state-port.ts';
import type { RunEvent } from '../../../functions/orchestrator/schemas/event.ts';
import { ManualClock } from '../../support/manual-clock.ts';
import { followerAuth, runEvent } from '../../support/run-event-fixtures.ts';

const auth = followerAuth;
const event = runEvent;

/** A run's log that counts its reads; while `hold` is set, a read answers once it is released. */
function countedLog() {
  const stored: RunEvent[] = [];
  let reads = 0;
  const gate: { hold?: Promise<void>; started?: () => void } = {};
  const unused = () => Promise.reject(new Error('unused'));
  const runs: RunStatePort = {
    listEvents: async (_auth, _runId, page) => {
      reads += 1;
      if (gate.hold !== undefined) {
        gate.started?.();
        await gate.hold;
      }
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
  return { runs, stored, gate, reads: () => reads };
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

  /** Follows run_x, whose log is empty, with signals, until its reader has backed off to idle. */
  async function idleFollower() {
    const clock = new ManualClock();
    const log = countedLog();
    const signals = new RunSignals();
    const hub = new RunEventHub({ runs: log.runs, timing, clock, signals });
    const subscription = hub.subscribe(auth, 'run_x', 0);
    await clock.sleep(10_000);
    return { clock, log, signals, ...subscription };
  }

  it('reads the store at once when a commit hands over events after a gap', async () => {
    const { clock, log, signals, tail, close } = await idleFollower();
    const readsBefore = log.reads();
    const at = clock.now();
    log.stored.push(event(1), event(2), event(3));
    // Events 1 and 2 were committed elsewhere: only 3 is handed over.
    signals.signal('acme', 'run_x', [event(3)]);
    while ((tail.eventsAfter(0) ?? []).length < 3)
      await tail.changed(tail.version, 60_000, new AbortController().signal);
    expect(tail.eventsAfter(0)!.map((e) => e.sequence)).toEqual([1, 2, 3]);
    expect(log.reads()).toBe(readsBefore + 1);
    // At once: not at the next idle poll.
    expect(clock.now()).toBe(at);
    close();
  });

  it('passes on handed-over events it already holds once, and ends at a handed-over terminal event', async () => {
    const { clock, log, signals, tail, close } = await idleFollower();
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

  /** Subscribes to run_x after event 1 is read, then holds the next read until `release` is called. */
  async function heldRead() {
    const clock = new ManualClock();
    const log = countedLog();
    const signals = new RunSignals();
    const hub = new RunEventHub({ runs: log.runs, timing, clock, signals });
    log.stored.push(event(1));
    const subscription = hub.subscribe(auth, 'run_x', 0);
    while ((subscription.tail.eventsAfter(0) ?? []).length < 1) {
      await subscription.tail.changed(subscription.tail.version, 60_000, new AbortController().signal);
    }
    let release!: () => void;
    log.gate.hold = new Promise((resolve) => (release = resolve));
    const started = new Promise<void>((resolve) => (log.gate.started = resolve));
    // A signal without events prompts the read that is held.
    signals.signal('acme', 'run_x');
    await started;
    return { clock, log, signals, ...subscription, release };
  }

  it('passes each event on once when a commit hands events over while a read is out', async () => {
    const { log, signals, tail, close, release } = await heldRead();
    log.stored.push(event(2), event(3));
    signals.signal('acme', 'run_x', [event(2), event(3)]);
    expect(tail.eventsAfter(0)!.map((e) => e.sequence)).toEqual([1, 2, 3]);
    log.stored.push(event(4));
    release();
    while (tail.last < 4) await tail.changed(tail.version, 60_000, new AbortController().signal);
    expect(tail.eventsAfter(0)!.map((e) => e.sequence)).toEqual([1, 2, 3, 4]);
    close();
  });

  it('stops reading once a terminal event is handed over while a read is out', async () => {
    const { clock, log, signals, tail, close, release } = await heldRead();
    const at = clock.now();
    log.stored.push(event(2, 'run.completed'));
    signals.signal('acme', 'run_x', [event(2, 'run.completed')]);
    const reads = log.reads();
    release();
    while (signals.followed() > 0) await new Promise((resolve) => setImmediate(resolve));
    expect(tail.eventsAfter(0)!.map((e) => e.sequence)).toEqual([1, 2]);
    expect(tail.caughtUp).toBe(true);
    expect(log.reads()).toBe(reads);
    expect(clock.now()).toBe(at);
    close();
  });

  it('returns the same events, polling fast after each, when no signal comes', async () => {
    const { seenAt, reads } = await follow();
    expect(seenAt).toHaveLength(6);
    expect(reads).toBeGreaterThan(1 + 5 + 6);
  });

  it('returns the one set of signals of the process to every copy of its module', async () => {
    const { processRunSignals } = await import('../../../functions/orchestrator/events/run-signals.ts');
    vi.resetModules();
    const again = await import('../../../functions/orchestrator/events/run-signals.ts');
    expect(again.processRunSignals).toBe(processRunSignals);
    expect(again.RunSignals).not.toBe(RunSignals);
    // A stream served by one copy gets the events a commit publishes through the other.
    const clock = new ManualClock();
    const log = countedLog();
    const hub = new RunEventHub({ runs: log.runs, timing, clock, signals: processRunSignals });
    const { tail, close } = hub.subscribe(auth, 'run_x', 0);
    await clock.sleep(10_000);
    const sink = again.signallingSink({ publish: async () => undefined }, again.processRunSignals);
    await sink.publish(auth, [event(1)]);
    expect(tail.eventsAfter(0)!.map((e) => e.sequence)).toEqual([1]);
    close();
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

  it('throws what a reader threw only after every other reader and the inner sink had the events', async () => {
    const signals = new RunSignals();
    const heard: string[] = [];
    signals.listen('acme', 'run_x', () => {
      throw new Error('reader x broke');
    });
    signals.listen('acme', 'run_x', (events) => heard.push(`x:${(events ?? []).length}`));
    signals.listen('acme', 'run_y', (events) => heard.push(`y:${(events ?? []).length}`));
    const published: string[] = [];
    const sink = signallingSink(
      { publish: async (_a, events) => void published.push(...events.map((e) => e.run_id)) },
      signals,
    );
    const other = { ...event(1), run_id: 'run_y', event_id: 'y1' };
    await expect(sink.publish(auth, [event(1), other])).rejects.toEqual(new Error('reader x broke'));
    expect(heard).toEqual(['x:1', 'y:1']);
    expect(published).toEqual(['run_x', 'run_y']);
  });

  it('throws both failures when a reader and the inner sink fail', async () => {
    const signals = new RunSignals();
    signals.listen('acme', 'run_x', () => {
      throw new Error('reader broke');
    });
    const sink = signallingSink({ publish: () => Promise.reject(new Error('sink down')) }, signals);
    const failure = await sink.publish(auth, [event(1)]).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(AggregateError);
    expect((failure as AggregateError).errors).toEqual([new Error('reader broke'), new Error('sink down')]);
  });
});
