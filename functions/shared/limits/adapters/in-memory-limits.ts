import type { Clock } from '../../timing/clock.ts';
import { systemClock } from '../../timing/clock.ts';
import type {
  RateDecision,
  RateLimit,
  RateLimiterPort,
  SlotDecision,
  SlotLease,
  SlotPoolPort,
} from '../limiter-port.ts';
import {
  allowedDecision,
  checkSlotArguments,
  gcraOf,
  liveLeases,
  nextTat,
  refusedDecision,
  slotRetryAfterSeconds,
} from './gcra.ts';

/**
 * RateLimiterPort in process memory (the unit tier and a single-process node): the same GCRA
 * arithmetic as the DynamoDB adapter, on the injected clock (HLD §5.2).
 */
export class InMemoryRateLimiter implements RateLimiterPort {
  readonly #clock: Clock;
  readonly #tats = new Map<string, number>();

  constructor(options: { clock?: Clock } = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  async take(key: string, limit: RateLimit): Promise<RateDecision> {
    return this.takeNow(key, limit);
  }

  /**
   * {@link take} without yielding, for another in-process store that takes a request in the same
   * step as its own write (as the DynamoDB adapters do in one transaction).
   */
  takeNow(key: string, limit: RateLimit): RateDecision {
    const gcra = gcraOf(limit);
    const now = Math.floor(this.#clock.now());
    const stored = this.#tats.get(key);
    const next = nextTat(gcra, now, stored);
    if (next === undefined) return refusedDecision(gcra, now, stored ?? now);
    this.#tats.set(key, next);
    return allowedDecision(gcra, now, next);
  }

  knownRefusal(key: string, limit: RateLimit): RateDecision | undefined {
    const gcra = gcraOf(limit);
    const now = Math.floor(this.#clock.now());
    const stored = this.#tats.get(key);
    return stored !== undefined && nextTat(gcra, now, stored) === undefined
      ? refusedDecision(gcra, now, stored)
      : undefined;
  }
}

/**
 * SlotPoolPort in process memory with leases that expire on the injected clock, so a dead holder's
 * slot comes back without anyone waiting in real time (HLD §5.2 concurrency caps).
 */
export class InMemorySlotPool implements SlotPoolPort {
  readonly #clock: Clock;
  readonly #pools = new Map<string, Map<string, number>>();

  constructor(options: { clock?: Clock } = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  async acquire(pool: string, holder: string, capacity: number, leaseSeconds: number): Promise<SlotDecision> {
    checkSlotArguments(holder, capacity, leaseSeconds);
    const now = Math.floor(this.#clock.now());
    const leases = this.#pool(pool);
    // Expired leases are dropped only when the pool looks full, as the DynamoDB adapter does: until
    // then an expired holder may still renew its lease.
    if (!leases.has(holder) && leases.size >= capacity) {
      for (const [name, expiresAtMs] of leases) if (expiresAtMs <= now) leases.delete(name);
    }
    if (!leases.has(holder) && leases.size >= capacity) {
      const live = liveLeases(Object.fromEntries(leases), now);
      return {
        acquired: false,
        inUse: live.length,
        capacity,
        retryAfterSeconds: slotRetryAfterSeconds(live, now),
      };
    }
    leases.set(holder, now + Math.ceil(leaseSeconds * 1000));
    return { acquired: true, inUse: leases.size, capacity };
  }

  async renew(pool: string, holder: string, leaseSeconds: number): Promise<boolean> {
    checkSlotArguments(holder, undefined, leaseSeconds);
    const leases = this.#pool(pool);
    if (!leases.has(holder)) return false;
    leases.set(holder, Math.floor(this.#clock.now()) + Math.ceil(leaseSeconds * 1000));
    return true;
  }

  async release(pool: string, holder: string): Promise<void> {
    this.#pools.get(pool)?.delete(holder);
  }

  async acquireAll(
    holder: string,
    pools: readonly { pool: string; capacity: number }[],
    leaseSeconds: number,
    release: readonly string[],
  ): Promise<boolean> {
    checkSlotArguments(holder, undefined, leaseSeconds);
    for (const { capacity } of pools) checkSlotArguments(holder, capacity);
    // As one conditional write would: a pool that looks full (expired leases counted) refuses it all.
    const full = pools.some(({ pool, capacity }) => {
      const leases = this.#pool(pool);
      return !leases.has(holder) && leases.size >= capacity;
    });
    if (full) return false;
    const expiry = Math.floor(this.#clock.now()) + Math.ceil(leaseSeconds * 1000);
    for (const { pool } of pools) this.#pool(pool).set(holder, expiry);
    for (const pool of release) this.#pools.get(pool)?.delete(holder);
    return true;
  }

  async releaseAll(
    pools: readonly string[],
    holder: string,
    watch?: string,
  ): Promise<SlotLease[] | undefined> {
    for (const pool of pools) this.#pools.get(pool)?.delete(holder);
    return watch === undefined || pools.includes(watch) ? undefined : this.holders(watch);
  }

  async holders(pool: string): Promise<SlotLease[]> {
    return liveLeases(Object.fromEntries(this.#pool(pool)), Math.floor(this.#clock.now()));
  }

  #pool(pool: string): Map<string, number> {
    let leases = this.#pools.get(pool);
    if (leases === undefined) {
      leases = new Map();
      this.#pools.set(pool, leases);
    }
    return leases;
  }
}
