/**
 * Quota enforcement state shared by every function instance (HLD §5.2, §10.2): rate limits and
 * slots live in DynamoDB and change only through conditional writes, so two instances never both
 * take the last token or slot.
 */

/** One rate limit: `rate` per `periodSeconds` sustained, `burst` at once. */
export type RateLimit = { rate: number; periodSeconds: number; burst: number };

/** What a rate-limited attempt came to; the fields feed the `RateLimit-*` headers. */
export type RateDecision = {
  allowed: boolean;
  /** The bucket's size (`RateLimit-Limit`). */
  limit: number;
  /** Requests still allowed right now after this one (`RateLimit-Remaining`). */
  remaining: number;
  /** Seconds until the bucket is full again (`RateLimit-Reset`). */
  resetSeconds: number;
  /** When refused: seconds until one more request would be allowed (`Retry-After`). */
  retryAfterSeconds: number;
};

/** A bucket to take one request from: its key (built with the storage key builders) and limit. */
export type RateBucket = { key: string; limit: RateLimit };

/**
 * A token-bucket limiter (GCRA: the bucket is one "theoretical arrival time" per key). `key` names
 * the bucket, e.g. `tenant/acme/limits/run-rate`; the caller builds it with the storage key builders.
 */
export interface RateLimiterPort {
  take(key: string, limit: RateLimit): Promise<RateDecision>;
  /**
   * A refusal this instance already knows without a call to the store: the bucket was full when the
   * instance last saw it and has not refilled since. `undefined` says nothing (the bucket may still
   * be full); a refusal returned is always one `take` would return, so a caller can answer a flood
   * before any other work (HLD §10.2).
   */
  knownRefusal(key: string, limit: RateLimit): RateDecision | undefined;
}

/**
 * The most leases one slot pool holds: a pool is one item, and DynamoDB items end at 400 KB. Every
 * quota counted in a pool (concurrent and queued runs, open streams) stays within it.
 */
export const maxSlotPoolCapacity = 5_000;

/** A holder's claim on a slot, identified by `holder` (a run id, a stream id). */
export type SlotLease = { holder: string; expiresAtMs: number };

/** What an attempt to take a slot came to. */
export type SlotDecision =
  | { acquired: true; inUse: number; capacity: number }
  | { acquired: false; inUse: number; capacity: number; retryAfterSeconds: number };

/**
 * Counted slots with leases that expire (concurrent runs, open streams, queued runs): a holder that
 * dies without releasing loses its slot when its lease runs out, so caps never leak.
 */
export interface SlotPoolPort {
  /**
   * Takes a slot for `holder` (renewing it when the holder already has one) if fewer than
   * `capacity` unexpired leases are held.
   */
  acquire(pool: string, holder: string, capacity: number, leaseSeconds: number): Promise<SlotDecision>;
  /** Extends a held lease; false when the holder no longer holds one (it expired and was taken). */
  renew(pool: string, holder: string, leaseSeconds: number): Promise<boolean>;
  /** Gives a slot back; releasing a slot not held is a no-op. */
  release(pool: string, holder: string): Promise<void>;
  /**
   * Takes a slot for `holder` in every one of `pools` (renewing a lease it has) and gives back its
   * slot in each of `release`, in one atomic write: all of it, or nothing and false. False says
   * nothing of why (a pool full, an expired lease not yet dropped, a pool not yet created, a race):
   * the caller then goes pool by pool with {@link acquire}, which says. Optional: without it the
   * caller always goes pool by pool.
   */
  acquireAll?(
    holder: string,
    pools: readonly { pool: string; capacity: number }[],
    leaseSeconds: number,
    release: readonly string[],
  ): Promise<boolean>;
  /**
   * Gives back the holder's slot in every one of `pools`, in one write where it can; like
   * {@link release} per pool. With `watch`, a pool not among `pools`, it also answers that pool's
   * unexpired leases when the same write can tell them (it checks the pool holds no lease, or
   * reads them from the check that failed), so a caller about to read them need not; undefined
   * when it cannot tell, or without `watch`.
   */
  releaseAll?(pools: readonly string[], holder: string, watch?: string): Promise<SlotLease[] | undefined>;
  /** The unexpired leases of a pool, oldest first (for operators and the capacity report). */
  holders(pool: string): Promise<SlotLease[]>;
}
