import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BoundedCache } from '../../cache/bounded-cache.ts';
import { storageUnavailable } from '../../storage/dynamo-errors.ts';
import { updateRetryingConflicts } from '../../storage/transaction-conflict.ts';
import type { Clock } from '../../timing/clock.ts';
import { systemClock } from '../../timing/clock.ts';
import type { RateDecision, RateLimit, RateLimiterPort } from '../limiter-port.ts';
import { allowedDecision, gcraOf, highestAdmittingTat, refusedDecision } from './gcra.ts';
import type { Gcra } from './gcra.ts';

/** Bounds on one `take` (HLD §10.1): it sits on `POST /v1/runs`, so it must fail fast. */
export type DynamoLimitsOptions = {
  clock?: Clock;
  /** The whole call's budget, SDK retries included; `dependency_unavailable` after it. */
  timeoutMs?: number;
  /** Buckets whose last known `tat` this instance remembers (least recently used go first). */
  maxRememberedBuckets?: number;
};

/** The default budget of one limiter call: well inside API Gateway's 29 s and a step's timeout. */
export const defaultLimiterTimeoutMs = 5_000;
/** Conditional writes one call tries before it gives up; each lost race means another caller won. */
const maxWrites = 4;
/** Buckets one instance remembers by default: a few hundred bytes each, one per busy tenant. */
export const defaultRememberedBuckets = 10_000;
/** Idle buckets and pools outlive their last use by this much before TTL deletes them. */
export const limitItemGraceSeconds = 3_600;

/** The number stored under `name` in a failed condition's old item (raw or unmarshalled). */
function oldNumber(error: ConditionalCheckFailedException, name: string): number | undefined {
  const value: unknown = (error.Item as Record<string, unknown> | undefined)?.[name];
  if (typeof value === 'number') return value;
  if (typeof value === 'object' && value !== null && 'N' in value) return Number((value as { N: string }).N);
  return undefined;
}

/**
 * RateLimiterPort on DynamoDB (HLD §5.2 per-tenant rate and burst, correct across Lambda
 * instances): GCRA on one item per key (`pk` = the key, `sk` 0) holding the bucket's theoretical
 * arrival time `tat` in epoch milliseconds. A take is one conditional write, never a read-modify-
 * write: either `tat += interval` when the bucket is in use and admits one more, or `tat = now +
 * interval` when it is idle; a failed condition returns the stored `tat` (ALL_OLD), which says
 * whether to refuse or to try the other write. Two round trips at most when nobody races
 * (an idle bucket's first take), one otherwise. `expires_at` (the table's TTL) lets idle buckets vanish.
 *
 * A refusal costs no write when this instance already knows the bucket is full: every write only
 * moves a bucket's `tat` forward, so the last `tat` this instance saw is a lower bound of the stored
 * one, and a bucket that bound already refuses refuses for certain (HLD §10.2: a tenant flooding
 * past its quota must not load the storage every other tenant shares). The memory is bounded in
 * entries and kept only while it can still refuse.
 */
export class DynamoRateLimiter implements RateLimiterPort {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  /** Bucket (key and parameters) → the highest `tat` this instance has seen stored. */
  readonly #knownTat: BoundedCache<string, number>;
  /**
   * Bucket → the `tat` the takes this instance last planned into transactions would leave, applied
   * or not: only what their `RateLimit-Remaining` is reckoned from, never a reason to refuse.
   */
  readonly #plannedTat: BoundedCache<string, number>;

  constructor(client: DynamoDBDocumentClient, table: string, options: DynamoLimitsOptions = {}) {
    this.#client = client;
    this.#table = table;
    this.#clock = options.clock ?? systemClock;
    this.#timeoutMs = options.timeoutMs ?? defaultLimiterTimeoutMs;
    this.#knownTat = new BoundedCache({
      maxEntries: options.maxRememberedBuckets ?? defaultRememberedBuckets,
      // A remembered tat refuses for at most burst × interval after it was seen; the age bound
      // only keeps entries from outliving any use, whatever the clock does.
      maxAgeMs: 3_600_000,
      now: () => this.#clock.now(),
    });
    this.#plannedTat = new BoundedCache({
      maxEntries: options.maxRememberedBuckets ?? defaultRememberedBuckets,
      maxAgeMs: 3_600_000,
      now: () => this.#clock.now(),
    });
  }

  knownRefusal(key: string, limit: RateLimit): RateDecision | undefined {
    const gcra = gcraOf(limit);
    const now = Math.floor(this.#clock.now());
    const remembered = this.#knownTat.get(bucketOf(key, gcra));
    return remembered !== undefined && remembered > highestAdmittingTat(gcra, now)
      ? refusedDecision(gcra, now, remembered)
      : undefined;
  }

  /**
   * Plans a take to be written inside another transaction. `seen`: what the bucket held when the
   * last such write failed its condition (`tat` undefined: no bucket yet); when absent, what this
   * instance last saw. A bucket in use is moved on by one interval from whatever it holds, under the
   * same condition as {@link DynamoRateLimiter.take} (in use, and admitting one more), so takes of
   * concurrent calls never conflict with each other; an idle or unknown one is restarted at now.
   * A transaction returns no values, so an applied take's decision (its `RateLimit-Remaining`) is
   * reckoned from the `tat` this instance knew and the takes it planned since: takes other
   * instances made since are not in it.
   */
  planTake(key: string, limit: RateLimit, seen?: { tat: number | undefined }): PlannedRateTake {
    const gcra = gcraOf(limit);
    const now = Math.floor(this.#clock.now());
    const bucket = bucketOf(key, gcra);
    const remembered = this.#knownTat.get(bucket);
    const known = seen === undefined ? remembered : seen.tat;
    if (known !== undefined && known > highestAdmittingTat(gcra, now)) {
      return { kind: 'refused', decision: refusedDecision(gcra, now, known) };
    }
    if (known !== undefined && known >= now) {
      return {
        kind: 'write',
        update: advanceUpdate(this.#table, key, gcra, now),
        id: `${bucket}:busy:${now}`,
        bucket,
        gcra,
        now,
        tat: known + gcra.intervalMs,
        estimate: this.#plan(
          bucket,
          Math.max(known, this.#plannedTat.get(bucket) ?? known) + gcra.intervalMs,
        ),
      };
    }
    const tat = now + gcra.intervalMs;
    return {
      kind: 'write',
      update: restartUpdate(this.#table, key, gcra, now),
      id: `${bucket}:idle:${now}`,
      bucket,
      gcra,
      now,
      tat,
      estimate: this.#plan(bucket, tat),
    };
  }

  /** The decision of a planned take whose transaction applied; this instance remembers the bucket. */
  tookPlanned(plan: Extract<PlannedRateTake, { kind: 'write' }>): RateDecision {
    this.#remember(plan.bucket, plan.tat);
    return allowedDecision(plan.gcra, plan.now, Math.max(plan.tat, plan.estimate));
  }

  /** Notes the `tat` a planned take would leave, so the next plan of this instance counts it. */
  #plan(bucket: string, estimate: number): number {
    this.#plannedTat.set(bucket, estimate);
    return estimate;
  }

  /** Notes what a planned take's failed condition found stored (from its ALL_OLD item). */
  sawPlanned(
    plan: Extract<PlannedRateTake, { kind: 'write' }>,
    item: Record<string, unknown> | undefined,
  ): {
    tat: number | undefined;
  } {
    const value = item?.['tat'];
    const tat =
      typeof value === 'number'
        ? value
        : typeof value === 'object' && value !== null && 'N' in value
          ? Number((value as { N: string }).N)
          : undefined;
    if (tat !== undefined) this.#remember(plan.bucket, tat);
    return { tat };
  }

  #remember(bucket: string, tat: number): void {
    if (tat > (this.#knownTat.get(bucket) ?? -Infinity)) this.#knownTat.set(bucket, tat);
  }

  async take(key: string, limit: RateLimit): Promise<RateDecision> {
    const known = this.knownRefusal(key, limit);
    if (known !== undefined) return known;
    const gcra = gcraOf(limit);
    const now = Math.floor(this.#clock.now());
    const bucket = bucketOf(key, gcra);
    const decision = await this.#write(key, gcra, now, this.#knownTat.get(bucket));
    if (decision.tat !== undefined && decision.tat > (this.#knownTat.get(bucket) ?? -Infinity)) {
      this.#knownTat.set(bucket, decision.tat);
    }
    return decision.decision;
  }

  /**
   * The conditional writes of one take, and the `tat` they saw stored (when they saw one).
   * `remembered` is the highest `tat` this instance saw: when it has passed, the bucket has most
   * likely gone idle, so the idle-bucket write goes first and an idle bucket costs one write, not a
   * failed busy-bucket write and then the idle one (a bucket another instance kept busy answers the
   * failed condition with its `tat`, and the busy-bucket write follows, as before).
   */
  async #write(
    key: string,
    gcra: Gcra,
    now: number,
    remembered: number | undefined,
  ): Promise<{ decision: RateDecision; tat?: number }> {
    const signal = AbortSignal.timeout(this.#timeoutMs);
    // What the bucket held at the last failed write; undefined = unknown (try the busy-bucket write).
    let known: { tat: number | undefined } | undefined =
      remembered !== undefined && remembered < now ? { tat: remembered } : undefined;
    for (let attempt = 0; attempt < maxWrites; attempt += 1) {
      const idle = known !== undefined && (known.tat === undefined || known.tat < now);
      if (known?.tat !== undefined && !idle && known.tat > highestAdmittingTat(gcra, now)) {
        return { decision: refusedDecision(gcra, now, known.tat), tat: known.tat };
      }
      try {
        const tat = idle
          ? await this.#restart(key, gcra, now, signal)
          : await this.#advance(key, gcra, now, signal);
        return { decision: allowedDecision(gcra, now, tat), tat };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw storageUnavailable(error);
        known = { tat: oldNumber(error, 'tat') };
      }
    }
    // Every write lost a race: the bucket is being filled by others right now, so refuse (the
    // conservative answer) and say when it would admit again by the last `tat` seen.
    const lastSeen = known?.tat;
    return {
      decision: refusedDecision(gcra, now, Math.max(lastSeen ?? now, highestAdmittingTat(gcra, now) + 1)),
      ...(lastSeen === undefined ? {} : { tat: lastSeen }),
    };
  }

  /** A bucket in use that admits one more: `tat += interval`. */
  async #advance(key: string, gcra: Gcra, now: number, signal: AbortSignal): Promise<number> {
    const result = await updateRetryingConflicts(
      this.#client,
      { ...advanceUpdate(this.#table, key, gcra, now), ReturnValues: 'UPDATED_NEW' },
      signal,
    );
    const tat: unknown = result.Attributes?.['tat'];
    return typeof tat === 'number' ? tat : now + gcra.intervalMs;
  }

  /** An idle (or new) bucket: `tat = now + interval`. */
  async #restart(key: string, gcra: Gcra, now: number, signal: AbortSignal): Promise<number> {
    await updateRetryingConflicts(this.#client, restartUpdate(this.#table, key, gcra, now), signal);
    return now + gcra.intervalMs;
  }
}

/**
 * A take of one request planned to ride in another write's transaction (HLD §10.2: a limit checked
 * in the write it guards costs no round trip of its own): the conditional update to add to it, or
 * the refusal already known. The update either applies whole with the transaction or not at all.
 */
export type PlannedRateTake =
  | { kind: 'refused'; decision: RateDecision }
  | {
      kind: 'write';
      update: {
        TableName: string;
        Key: { pk: string; sk: number };
        UpdateExpression: string;
        ConditionExpression: string;
        ExpressionAttributeValues: Record<string, unknown>;
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD';
      };
      /** Names the write: a retried transaction carrying the same take keeps the same name. */
      id: string;
      bucket: string;
      gcra: Gcra;
      now: number;
      /** The bucket's `tat` once the write applied, as far as this instance knows (a lower bound). */
      tat: number;
      /**
       * The bucket's `tat` once the write applied, counting the takes this instance planned before
       * it (they may still be in flight): what the decision's `remaining` is reckoned from.
       */
      estimate: number;
    };

/**
 * The write that takes one request from a bucket in use that admits one more: `tat += interval`
 * (whatever it holds, so concurrent takes never conflict).
 */
function advanceUpdate(table: string, key: string, gcra: Gcra, now: number) {
  return {
    TableName: table,
    Key: { pk: key, sk: 0 },
    UpdateExpression: 'SET tat = tat + :interval, expires_at = :expires, kind = :kind',
    ConditionExpression: 'tat >= :now AND tat <= :highest',
    ExpressionAttributeValues: {
      ':interval': gcra.intervalMs,
      ':now': now,
      ':highest': highestAdmittingTat(gcra, now),
      ':expires': expiresAt(now + gcra.burst * gcra.intervalMs),
      ':kind': 'rate-limit',
    },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
  };
}

/** The write that takes one request from an idle (or new) bucket: `tat = now + interval`. */
function restartUpdate(table: string, key: string, gcra: Gcra, now: number) {
  const tat = now + gcra.intervalMs;
  return {
    TableName: table,
    Key: { pk: key, sk: 0 },
    UpdateExpression: 'SET tat = :tat, expires_at = :expires, kind = :kind',
    ConditionExpression: 'attribute_not_exists(tat) OR tat < :now',
    ExpressionAttributeValues: {
      ':tat': tat,
      ':now': now,
      ':expires': expiresAt(tat),
      ':kind': 'rate-limit',
    },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
  };
}

/** The memory's key of a bucket: the same item under other parameters is another bucket. */
function bucketOf(key: string, gcra: Gcra): string {
  return `${key}\u0000${gcra.intervalMs}\u0000${gcra.burst}`;
}

/** The TTL (epoch seconds) of an item whose state matters until `untilMs`. */
export function expiresAt(untilMs: number): number {
  return Math.ceil(untilMs / 1000) + limitItemGraceSeconds;
}
