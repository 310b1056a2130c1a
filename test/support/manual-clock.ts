import type { Clock } from '../../functions/shared/timing/clock.ts';

type Sleeper = { until: number; resolve: () => void };

/**
 * Virtual time for the unit tier: time stands still while any code can run, and jumps to the next
 * pending `sleep` only once everything else is waiting. Several loops sleeping at once (a reader
 * polling, a stream waiting for its keep-alive) then wake in the order real time would wake them,
 * and minutes of timing pass in microseconds, deterministically.
 */
export class ManualClock implements Clock {
  #now: number;
  #sleepers: Sleeper[] = [];
  #scheduled = false;

  constructor(start = Date.parse('2026-01-01T00:00:00Z')) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  /** The current time as a Date, for ports that take `now: () => Date`. */
  date(): Date {
    return new Date(this.#now);
  }

  /** Moves the time forward by hand (pending sleeps whose time came wake on the next turn). */
  advance(ms: number): void {
    this.#now += ms;
    this.#schedule();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted === true) return resolve();
      const sleeper: Sleeper = {
        until: this.#now + Math.max(0, ms),
        resolve: () => {
          signal?.removeEventListener('abort', abort);
          resolve();
        },
      };
      const abort = () => {
        this.#sleepers = this.#sleepers.filter((entry) => entry !== sleeper);
        sleeper.resolve();
      };
      signal?.addEventListener('abort', abort, { once: true });
      this.#sleepers.push(sleeper);
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // setImmediate runs once every pending promise job has: nothing but sleepers is left to run.
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#sleepers.length === 0) return;
      const next = Math.min(...this.#sleepers.map((sleeper) => sleeper.until));
      this.#now = Math.max(this.#now, next);
      const due = this.#sleepers.filter((sleeper) => sleeper.until <= this.#now);
      this.#sleepers = this.#sleepers.filter((sleeper) => sleeper.until > this.#now);
      for (const sleeper of due) sleeper.resolve();
      if (this.#sleepers.length > 0) this.#schedule();
    });
  }
}
