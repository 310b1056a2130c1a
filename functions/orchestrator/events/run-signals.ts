import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { EventSinkPort } from '../ports/event-sink-port.ts';
import type { RunEvent } from '../schemas/event.ts';
import type { RunRecord } from '../ports/run-state-port.ts';

/**
 * Hears of a run's newly stored events: `events` are the stored events a commit of this process
 * returned (ascending), or `undefined` when only the fact of a change is known.
 */
export type RunSignalListener = (events?: readonly RunEvent[]) => void;

/**
 * Tells the event readers of this process that a run has new events the moment a commit in this
 * process stored them (HLD §4.4), and hands them the stored events, so a reader that follows without
 * a gap passes them on without reading the store, and otherwise reads at once instead of polling
 * fast. A hint only: events committed by another process are still found by the reader's own idle
 * poll. Listeners exist only while a reader follows the run, so what this holds is bounded by the
 * open readers.
 */
export class RunSignals {
  readonly #listeners = new Map<string, Set<RunSignalListener>>();

  /** Calls `listener` whenever the run `tenantId`/`runId` is signalled; the answer stops it. */
  listen(tenantId: string, runId: string, listener: RunSignalListener): () => void {
    const key = signalKey(tenantId, runId);
    let listeners = this.#listeners.get(key);
    if (listeners === undefined) {
      listeners = new Set();
      this.#listeners.set(key, listeners);
    }
    listeners.add(listener);
    return () => {
      const current = this.#listeners.get(key);
      current?.delete(listener);
      if (current?.size === 0) this.#listeners.delete(key);
    };
  }

  /**
   * Wakes the readers of the run, if this process has any, handing them `events` when given: the
   * run's events as the store holds them (stored already, ascending). Every listener is called even
   * when one throws; what they threw is thrown after the last, as one `AggregateError`.
   */
  signal(tenantId: string, runId: string, events?: readonly RunEvent[]): void {
    const errors: unknown[] = [];
    for (const listener of this.#listeners.get(signalKey(tenantId, runId)) ?? []) {
      try {
        listener(events);
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0)
      throw new AggregateError(errors, `a reader of run ${runId} failed to take its events`);
  }

  /** Runs followed in this process now (for tests and gauges). */
  followed(): number {
    return this.#listeners.size;
  }
}

function signalKey(tenantId: string, runId: string): string {
  return `${tenantId}\u0000${runId}`;
}

/**
 * Where the process's signals are kept: a key every copy of this module finds, bundled or not. Its
 * version changes with {@link RunSignals}' interface, so bundles of different builds hosted in one
 * process never share signals they would read differently.
 */
const processSignalsKey = Symbol.for('agentos.orchestrator.run-signals/v1');

/**
 * The signals of this process: every function composed in it shares them, even when each is its
 * own bundle with its own copy of this module (a local node hosting the deployed bundles). In
 * Lambda each function has its own process, so a step worker's signals reach no reader and
 * streams keep polling; where one process hosts every function, a commit hands its events to the
 * streams at once.
 */
export const processRunSignals: RunSignals = ((globalThis as Record<symbol, unknown>)[processSignalsKey] ??=
  new RunSignals()) as RunSignals;

/**
 * An event sink that also signals the runs whose events it publishes, handing each run's events to
 * its readers: what a sink is given is what the store returned for a commit, stored already. A
 * reader that fails to take its events keeps neither the other readers nor the inner sink from
 * theirs; what failed is thrown once every one had its turn (the caller reports it).
 */
export function signallingSink(inner: EventSinkPort, signals: RunSignals): EventSinkPort {
  return {
    async publish(auth: AuthContext, events: readonly RunEvent[], run?: RunRecord): Promise<void> {
      const byRun = new Map<string, RunEvent[]>();
      for (const event of events) {
        const list = byRun.get(event.run_id);
        if (list === undefined) byRun.set(event.run_id, [event]);
        else list.push(event);
      }
      const failures: unknown[] = [];
      for (const [runId, runEvents] of byRun) {
        try {
          signals.signal(
            auth.tenant_id,
            runId,
            runEvents.toSorted((a, b) => a.sequence - b.sequence),
          );
        } catch (error) {
          failures.push(...(error instanceof AggregateError ? error.errors : [error]));
        }
      }
      try {
        await inner.publish(auth, events, run);
      } catch (error) {
        failures.push(error);
      }
      if (failures.length === 1) throw failures[0];
      if (failures.length > 1) throw new AggregateError(failures, 'run events not published everywhere');
    },
  };
}
