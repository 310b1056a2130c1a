import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { EventSinkPort } from '../ports/event-sink-port.ts';
import type { RunEvent } from '../schemas/event.ts';
import type { RunRecord } from '../ports/run-state-port.ts';

/**
 * Tells the event readers of this process that a run has new events the moment a commit in this
 * process stored them (HLD §4.4), so a reader waits for that instead of polling fast. A hint only:
 * events committed by another process are still found by the reader's own idle poll. Listeners
 * exist only while a reader follows the run, so what this holds is bounded by the open readers.
 */
export class RunSignals {
  readonly #listeners = new Map<string, Set<() => void>>();

  /** Calls `listener` whenever the run `tenantId`/`runId` is signalled; the answer stops it. */
  listen(tenantId: string, runId: string, listener: () => void): () => void {
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

  /** Wakes the readers of the run, if this process has any. */
  signal(tenantId: string, runId: string): void {
    for (const listener of this.#listeners.get(signalKey(tenantId, runId)) ?? []) listener();
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
 * The signals of this process: every function composed in it shares them. In Lambda each function
 * has its own process, so a step worker's signals reach no reader and streams keep polling; in the
 * local node, where one process hosts every function, a commit wakes its streams at once.
 */
export const processRunSignals = new RunSignals();

/** An event sink that also signals the runs whose events it publishes (they are stored already). */
export function signallingSink(inner: EventSinkPort, signals: RunSignals): EventSinkPort {
  return {
    async publish(auth: AuthContext, events: readonly RunEvent[], run?: RunRecord): Promise<void> {
      for (const runId of new Set(events.map((event) => event.run_id))) signals.signal(auth.tenant_id, runId);
      await inner.publish(auth, events, run);
    },
  };
}
