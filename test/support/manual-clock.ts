import type { Clock } from '../../functions/shared/timing/clock.ts';

/**
 * A clock that only moves when code waits on it: `sleep(ms)` advances the time by `ms` at once and
 * records the wait. A loop driven by one consumer runs through minutes of its timing in
 * microseconds, deterministically.
 */
export class ManualClock implements Clock {
  #now: number;
  /** Every wait, in order. */
  readonly sleeps: number[] = [];

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

  advance(ms: number): void {
    this.#now += ms;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) return;
    this.sleeps.push(ms);
    this.#now += ms;
    // Let other tasks run, as a real wait would.
    await Promise.resolve();
  }
}
