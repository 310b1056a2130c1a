import type { AuthContext } from '../../shared/auth/auth-context.ts';
import { rateLimited } from '../../shared/limits/rate-limit-headers.ts';
import { systemClock } from '../../shared/timing/clock.ts';
import type { Clock } from '../../shared/timing/clock.ts';
import type { RunStatePort } from '../ports/run-state-port.ts';
import { terminalEventTypes } from '../schemas/event.ts';
import type { RunEvent } from '../schemas/event.ts';
import { gaplessAfter } from './event-order.ts';
import type { EventStreamTiming } from './run-event-stream.ts';
import type { RunSignals } from './run-signals.ts';

/** Limits on the event streams one process serves (HLD §3.1 event streaming). */
export type StreamLimits = {
  /** Streams open at once in this process; one more is refused with 429. */
  maxStreams: number;
  /** Streams one tenant may have open at once in this process. */
  maxStreamsPerTenant: number;
  /** Events a shared reader keeps for its subscribers; one that falls further behind reads the store. */
  bufferedEvents: number;
};

export const defaultStreamLimits: StreamLimits = {
  maxStreams: 2_000,
  maxStreamsPerTenant: 1_000,
  bufferedEvents: 1_000,
};

/** `Retry-After` of a stream refused by a per-process cap: streams end all the time. */
const streamRetrySeconds = 5;

type TailOptions = {
  runs: RunStatePort;
  auth: AuthContext;
  runId: string;
  from: number;
  timing: EventStreamTiming;
  clock: Clock;
  buffered: number;
  onIdle: () => void;
  signals?: RunSignals;
};

/** What a {@link RunEventHub} is built from. */
export type RunEventHubOptions = {
  runs: RunStatePort;
  timing: EventStreamTiming;
  limits?: StreamLimits;
  clock?: Clock;
  /** Told the number of streams open in this process whenever one opens or ends (a gauge, HLD §9.1). */
  onOpenStreams?: (open: number) => void;
  /**
   * Commits of this process hand their runs' stored events over here ({@link RunSignals}): a reader
   * passes on those that follow what it holds without a gap and reads at once otherwise, and then
   * waits for the next hand-over or its idle interval, instead of polling fast.
   */
  signals?: RunSignals;
};

/**
 * The one reader of a run's events in this process, however many streams follow the run: it polls
 * the store (fast while events arrive, backing off to the idle interval while none do), keeps the
 * newest events, and wakes its subscribers. A commit in this process hands it the events it stored
 * for the run: those that follow what it holds without a gap are passed on as they are, with no
 * read; otherwise (a gap, or a signal without events) it reads at once. After a read a signal
 * prompted it waits for the next signal (or the idle interval, for writers elsewhere) rather than
 * polling fast. It stops when the run's terminal event arrived or its last subscriber left.
 */
class RunTail {
  /** The newest events read, gapless and ascending. */
  readonly events: RunEvent[] = [];
  /** The highest sequence read so far (every event up to it has been seen, gapless). */
  last: number;
  terminal = false;
  /** True once a read found nothing beyond what it returned: the reader has caught up with the store. */
  caughtUp = false;
  subscribers = 0;
  readonly #wakers = new Set<() => void>();
  #version = 0;
  readonly #stop = new AbortController();
  #failure: unknown;
  /** A signal came since the last read began. */
  #signalled = false;
  /** A commit of this process handed events over: its writer signals, so reads need not be fast. */
  #handedOver = false;
  /** Ends the current wait between reads early (a signal). */
  #nap: AbortController | undefined;

  private readonly options: TailOptions;

  constructor(options: TailOptions) {
    this.options = options;
    this.last = options.from;
    void this.#poll();
  }

  /** The buffered events after `after`, or `undefined` when `after` is older than the buffer holds. */
  eventsAfter(after: number): RunEvent[] | undefined {
    const first = this.events[0]?.sequence ?? this.last + 1;
    if (after < first - 1) return undefined;
    return this.events.slice(after - first + 1);
  }

  /**
   * Counts the reader's changes (new events, caught up, finished, failed). A stream notes it before
   * it looks, and waits with it, so a change that came while it was busy sending is not slept past.
   */
  get version(): number {
    return this.#version;
  }

  /**
   * Resolves at once when the reader changed since `seen` (its {@link version} when the caller last
   * looked), else when it next changes, after `ms`, or when `signal` aborts.
   */
  async changed(seen: number, ms: number, signal: AbortSignal): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#version !== seen) return;
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    this.#wakers.add(wake);
    const timeout = new AbortController();
    try {
      await Promise.race([woken, this.options.clock.sleep(ms, AbortSignal.any([signal, timeout.signal]))]);
    } finally {
      timeout.abort();
      this.#wakers.delete(wake);
    }
    if (this.#failure !== undefined) throw this.#failure;
  }

  leave(): void {
    this.subscribers -= 1;
    if (this.subscribers === 0) {
      this.#stop.abort();
      this.options.onIdle();
    }
  }

  async #poll(): Promise<void> {
    const { runs, auth, runId, timing, clock, buffered } = this.options;
    let pollMs = timing.pollMinMs;
    const unlisten = this.options.signals?.listen(auth.tenant_id, runId, (events) => {
      if (events !== undefined && this.#take(events)) return;
      this.#signalled = true;
      this.#nap?.abort();
    });
    try {
      while (!this.#stop.signal.aborted && !this.terminal) {
        const prompted = this.#signalled;
        this.#signalled = false;
        const page = await runs.listEvents(auth, runId, { after: this.last, limit: 100 });
        // `last` as it is now: events handed over while the read was out are not passed on twice.
        const fresh = gaplessAfter(page, this.last);
        // Events no commit here handed over, found unprompted: a writer elsewhere, so poll fast again.
        if (fresh.length > 0 && !prompted) this.#handedOver = false;
        this.#append(fresh, buffered);
        if (this.terminal) break;
        // A full page, all of it now held (some may have been handed over meanwhile): read on.
        if (page.length === 100 && page.at(-1)!.sequence === this.last) continue;
        if (!this.caughtUp) {
          this.caughtUp = true;
          this.#wake();
        }
        // After a read a signal prompted, or once commits here hand events over, the next commit
        // here signals too: no fast polls for it.
        if (prompted || this.#handedOver) pollMs = timing.pollMaxMs;
        else pollMs = page.length > 0 ? timing.pollMinMs : Math.min(timing.pollMaxMs, pollMs * 2);
        // A signal that came during the read is not slept past.
        if (this.#signalled) continue;
        const nap = new AbortController();
        this.#nap = nap;
        await clock.sleep(pollMs, AbortSignal.any([this.#stop.signal, nap.signal]));
        this.#nap = undefined;
      }
    } catch (error) {
      // Every subscriber sees the read failure and ends its stream; the next one starts afresh.
      this.#failure = error;
      this.options.onIdle();
    } finally {
      unlisten?.();
    }
    this.#wake();
  }

  /**
   * Takes events a commit of this process stored (ascending): true when every one of them was
   * already held or now is, false when one follows a gap and the store must be read.
   */
  #take(events: readonly RunEvent[]): boolean {
    if (this.terminal || this.#failure !== undefined) return true;
    const unseen = events.filter((event) => event.sequence > this.last);
    const fresh = gaplessAfter(unseen, this.last);
    // Even events a read found first show that commits here hand this run's events over.
    if (events.length > 0) this.#handedOver = true;
    this.#append(fresh, this.options.buffered);
    // A terminal event ends the reader now, not after its idle wait.
    if (this.terminal) this.#nap?.abort();
    return fresh.length === unseen.length;
  }

  /** Keeps `fresh` (gapless after {@link last}), bounded by `buffered`, and wakes the subscribers. */
  #append(fresh: readonly RunEvent[], buffered: number): void {
    if (fresh.length === 0) return;
    this.events.push(...fresh);
    if (this.events.length > buffered) this.events.splice(0, this.events.length - buffered);
    this.last = fresh.at(-1)!.sequence;
    this.terminal = fresh.some((event) => terminalEventTypes.has(event.type));
    // Nothing follows a terminal event: the reader has caught up for good.
    if (this.terminal) this.caughtUp = true;
    this.#wake();
  }

  #wake(): void {
    this.#version += 1;
    for (const wake of this.#wakers) wake();
    this.#wakers.clear();
  }
}

/**
 * Shares one reader per run among the event streams of this process, and enforces the stream
 * limits. A stream subscribes, reads the buffered events after its own cursor (or the store, when
 * it is further behind), waits for the next change, and unsubscribes when it ends; a slow client
 * only slows its own stream, and memory stays bounded by the buffer.
 */
export class RunEventHub {
  readonly #tails = new Map<string, RunTail>();
  readonly #open = new Map<string, number>();
  #total = 0;

  private readonly options: RunEventHubOptions;

  constructor(options: RunEventHubOptions) {
    this.options = options;
  }

  /** Streams open now, in all and for one tenant. */
  openStreams(tenantId?: string): number {
    return tenantId === undefined ? this.#total : (this.#open.get(tenantId) ?? 0);
  }

  /**
   * Throws what `subscribe` would for want of room, without registering a stream: a route that
   * creates a run and then streams it checks first, so the refusal comes before the run exists.
   *
   * @throws RateLimitedError `node_sse_connections` or `tenant_sse_connections`, as `subscribe`
   */
  assertRoom(tenantId: string): void {
    const limits = this.options.limits ?? defaultStreamLimits;
    if (this.#total >= limits.maxStreams) {
      throw rateLimited(
        'node_sse_connections',
        'The node serves as many event streams as it may; retry shortly',
        streamRetrySeconds,
      );
    }
    if ((this.#open.get(tenantId) ?? 0) >= limits.maxStreamsPerTenant) {
      throw rateLimited(
        'tenant_sse_connections',
        'The tenant has as many event streams open as it may; retry shortly',
        streamRetrySeconds,
      );
    }
  }

  /**
   * Registers a stream of `runId` whose client has seen `after`; the returned subscription gives the
   * shared reader and must be closed when the stream ends.
   *
   * @throws RateLimitedError `node_sse_connections` when the process serves as many streams as it
   * may, `tenant_sse_connections` when the tenant has as many open in it as allowed.
   */
  subscribe(auth: AuthContext, runId: string, after: number): { tail: RunTail; close(): void } {
    const limits = this.options.limits ?? defaultStreamLimits;
    const tenant = auth.tenant_id;
    this.assertRoom(tenant);
    const tenantOpen = this.#open.get(tenant) ?? 0;
    const key = `${tenant}/${runId}`;
    let tail = this.#tails.get(key);
    if (tail === undefined) {
      const created: RunTail = new RunTail({
        runs: this.options.runs,
        auth,
        runId,
        from: after,
        timing: this.options.timing,
        clock: this.options.clock ?? systemClock,
        buffered: limits.bufferedEvents,
        ...(this.options.signals === undefined ? {} : { signals: this.options.signals }),
        onIdle: () => {
          if (this.#tails.get(key) === created) this.#tails.delete(key);
        },
      });
      tail = created;
      this.#tails.set(key, tail);
    }
    tail.subscribers += 1;
    this.#total += 1;
    this.#open.set(tenant, tenantOpen + 1);
    this.options.onOpenStreams?.(this.#total);
    const owned = tail;
    let closed = false;
    return {
      tail: owned,
      close: () => {
        if (closed) return;
        closed = true;
        owned.leave();
        this.#total -= 1;
        this.options.onOpenStreams?.(this.#total);
        const left = (this.#open.get(tenant) ?? 1) - 1;
        if (left === 0) this.#open.delete(tenant);
        else this.#open.set(tenant, left);
      },
    };
  }
}

export type { RunTail };
