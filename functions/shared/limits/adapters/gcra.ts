import type { RateDecision, RateLimit, SlotLease } from '../limiter-port.ts';

/**
 * The arithmetic of the GCRA token bucket (HLD §5.2 per-tenant rate and burst), in integer
 * milliseconds, shared by every RateLimiterPort adapter so they agree to the millisecond. A bucket
 * is one number, its theoretical arrival time (`tat`): a request at `now` is allowed when
 * `max(tat, now) + interval - now <= burst × interval`, and then moves `tat` to
 * `max(tat, now) + interval`.
 */
export type Gcra = {
  /** Milliseconds one request uses up (`period / rate`, at least 1). */
  intervalMs: number;
  burst: number;
};

/** The bucket's parameters; a rate, period or burst that is not positive is a programming error. */
export function gcraOf(limit: RateLimit): Gcra {
  if (!(limit.rate > 0) || !(limit.periodSeconds > 0) || !Number.isInteger(limit.burst) || limit.burst < 1) {
    throw new RangeError(
      `A rate limit needs a positive rate and period and a burst of at least 1 (got ${JSON.stringify(limit)})`,
    );
  }
  return {
    intervalMs: Math.max(1, Math.round((limit.periodSeconds * 1000) / limit.rate)),
    burst: limit.burst,
  };
}

/** The highest `tat` that still lets one more request in at `now`. */
export function highestAdmittingTat(gcra: Gcra, now: number): number {
  return now + (gcra.burst - 1) * gcra.intervalMs;
}

/** The decision for an accepted request that moved the bucket to `tat`. */
export function allowedDecision(gcra: Gcra, now: number, tat: number): RateDecision {
  return {
    allowed: true,
    limit: gcra.burst,
    remaining: Math.max(0, Math.floor((now + gcra.burst * gcra.intervalMs - tat) / gcra.intervalMs)),
    resetSeconds: Math.max(0, tat - now) / 1000,
    retryAfterSeconds: 0,
  };
}

/** The decision for a refused request, the bucket standing at `tat`. */
export function refusedDecision(gcra: Gcra, now: number, tat: number): RateDecision {
  return {
    allowed: false,
    limit: gcra.burst,
    remaining: 0,
    resetSeconds: Math.max(0, tat - now) / 1000,
    retryAfterSeconds: Math.max(1, tat - highestAdmittingTat(gcra, now)) / 1000,
  };
}

/**
 * What one `take` does to a bucket at `tat` (undefined: never used or idle): the new `tat`, or
 * `undefined` when the request is refused.
 */
export function nextTat(gcra: Gcra, now: number, tat: number | undefined): number | undefined {
  const base = tat === undefined || tat < now ? now : tat;
  return base <= highestAdmittingTat(gcra, now) ? base + gcra.intervalMs : undefined;
}

import { maxSlotPoolCapacity } from '../limiter-port.ts';

export { maxSlotPoolCapacity };
/** The longest holder id a pool takes (run ids and stream ids are about 30 characters). */
export const maxSlotHolderLength = 64;

/** Checks a pool's arguments; out of range is a programming error. */
export function checkSlotArguments(holder: string, capacity?: number, leaseSeconds?: number): void {
  if (holder.length === 0 || holder.length > maxSlotHolderLength) {
    throw new RangeError(
      `A slot holder id has 1 to ${maxSlotHolderLength} characters (got ${holder.length})`,
    );
  }
  if (
    capacity !== undefined &&
    (!Number.isInteger(capacity) || capacity < 0 || capacity > maxSlotPoolCapacity)
  ) {
    throw new RangeError(
      `A slot pool's capacity is an integer from 0 to ${maxSlotPoolCapacity} (got ${capacity})`,
    );
  }
  if (leaseSeconds !== undefined && !(leaseSeconds > 0)) {
    throw new RangeError(`A slot lease lasts a positive number of seconds (got ${leaseSeconds})`);
  }
}

/** The unexpired leases of a holder → expiry map, oldest expiry first. */
export function liveLeases(leases: Record<string, number>, now: number): SlotLease[] {
  return Object.entries(leases)
    .filter(([, expiresAtMs]) => expiresAtMs > now)
    .map(([holder, expiresAtMs]) => ({ holder, expiresAtMs }))
    .sort((a, b) => a.expiresAtMs - b.expiresAtMs || a.holder.localeCompare(b.holder));
}

/** Seconds until the first of `live` expires (at least one), when a full pool refuses. */
export function slotRetryAfterSeconds(live: SlotLease[], now: number): number {
  const first = live[0];
  return first === undefined ? 1 : Math.max(1, Math.ceil((first.expiresAtMs - now) / 1000));
}
