import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { cancellationCodes, storageUnavailable } from '../../storage/dynamo-errors.ts';
import {
  conflictAttempts,
  retryOnTransactionConflict,
  updateRetryingConflicts,
} from '../../storage/transaction-conflict.ts';
import { pauseAfterContention } from '../../timing/contention-backoff.ts';
import type { Clock } from '../../timing/clock.ts';
import { systemClock } from '../../timing/clock.ts';
import type { SlotDecision, SlotLease, SlotPoolPort } from '../limiter-port.ts';
import { defaultLimiterTimeoutMs, expiresAt } from './dynamo-rate-limiter.ts';
import type { DynamoLimitsOptions } from './dynamo-rate-limiter.ts';
import { checkSlotArguments, liveLeases, slotRetryAfterSeconds } from './gcra.ts';

/** Conditional writes one call tries before it gives up; each lost race means another caller won. */
const maxWrites = 6;
/** The longest lease, so the pool item's TTL always outlives its leases. */
const maxLeaseMs = 7 * 24 * 3600 * 1000;

type PoolItem = { leases: Record<string, number>; version: number };

/** The pool item in a failed condition's old item (raw attribute values or plain), if any. */
function oldPool(error: ConditionalCheckFailedException): PoolItem | undefined {
  return poolOf(error.Item);
}

/** A pool item as a failed condition returns it (raw attribute values or plain), if any. */
function poolOf(old: unknown): PoolItem | undefined {
  const item = old as Record<string, unknown> | undefined;
  if (item === undefined || !('version' in item)) return undefined;
  const plain =
    typeof item['version'] === 'number' ? item : unmarshall(item as Record<string, AttributeValue>);
  return { leases: (plain['leases'] ?? {}) as Record<string, number>, version: Number(plain['version']) };
}

/**
 * SlotPoolPort on DynamoDB (HLD §5.2 concurrency caps, §10.2 global caps): one item per pool
 * (`pk` = the pool key, `sk` 0) holding a map holder → lease expiry (epoch ms) and a version that
 * every write bumps. Taking a slot is one conditional write while the pool has room (`the holder
 * has one OR size(leases) < capacity`); when it has none, the failed write returns the item
 * (ALL_OLD) and, if some leases expired, one write conditioned on the version seen drops them and
 * takes the slot, so a dead holder's slot comes back and two callers never both take the last one.
 * A pool holds at most `maxSlotPoolCapacity` leases (one item, 400 KB).
 */
export class DynamoSlotPool implements SlotPoolPort {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #clock: Clock;
  readonly #timeoutMs: number;

  constructor(client: DynamoDBDocumentClient, table: string, options: DynamoLimitsOptions = {}) {
    this.#client = client;
    this.#table = table;
    this.#clock = options.clock ?? systemClock;
    this.#timeoutMs = options.timeoutMs ?? defaultLimiterTimeoutMs;
  }

  async acquire(pool: string, holder: string, capacity: number, leaseSeconds: number): Promise<SlotDecision> {
    checkSlotArguments(holder, capacity, leaseSeconds);
    const signal = AbortSignal.timeout(this.#timeoutMs);
    const now = Math.floor(this.#clock.now());
    const expiry = now + Math.min(maxLeaseMs, Math.ceil(leaseSeconds * 1000));
    let seen: PoolItem | undefined;
    for (let attempt = 0; attempt < maxWrites; attempt += 1) {
      try {
        if (seen === undefined) return await this.#take(pool, holder, capacity, expiry, now, signal);
        const live = liveLeases(seen.leases, now).filter((lease) => lease.holder !== holder);
        if (live.length >= capacity) {
          return {
            acquired: false,
            inUse: live.length,
            capacity,
            retryAfterSeconds: slotRetryAfterSeconds(live, now),
          };
        }
        // With no expired lease to drop, the size-conditioned write is the one to repeat: a write
        // conditioned on the version seen would lose to every concurrent taker, however much room is left.
        const purgeable = Object.entries(seen.leases).some(
          ([name, expiresAtMs]) => expiresAtMs <= now && name !== holder,
        );
        if (!purgeable) return await this.#take(pool, holder, capacity, expiry, now, signal);
        return await this.#takeAfterPurge(pool, holder, capacity, expiry, now, seen, signal);
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw storageUnavailable(error);
        seen = oldPool(error);
      }
    }
    // Every write lost a race: others are taking and giving back slots right now; refuse for now.
    const live = liveLeases(seen?.leases ?? {}, now);
    return { acquired: false, inUse: live.length, capacity, retryAfterSeconds: 1 };
  }

  async renew(pool: string, holder: string, leaseSeconds: number): Promise<boolean> {
    checkSlotArguments(holder, undefined, leaseSeconds);
    const now = Math.floor(this.#clock.now());
    const expiry = now + Math.min(maxLeaseMs, Math.ceil(leaseSeconds * 1000));
    try {
      await updateRetryingConflicts(
        this.#client,
        {
          TableName: this.#table,
          Key: { pk: pool, sk: 0 },
          UpdateExpression: 'SET leases.#h = :expiry, version = version + :one, expires_at = :ttl',
          ConditionExpression: 'attribute_exists(leases.#h)',
          ExpressionAttributeNames: { '#h': holder },
          ExpressionAttributeValues: { ':expiry': expiry, ':one': 1, ':ttl': expiresAt(now + maxLeaseMs) },
        },
        AbortSignal.timeout(this.#timeoutMs),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw storageUnavailable(error);
    }
  }

  async release(pool: string, holder: string): Promise<void> {
    checkSlotArguments(holder);
    try {
      const signal = AbortSignal.timeout(this.#timeoutMs);
      await updateRetryingConflicts(
        this.#client,
        {
          TableName: this.#table,
          Key: { pk: pool, sk: 0 },
          UpdateExpression: 'REMOVE leases.#h SET version = version + :one',
          ConditionExpression: 'attribute_exists(leases.#h)',
          ExpressionAttributeNames: { '#h': holder },
          ExpressionAttributeValues: { ':one': 1 },
        },
        signal,
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return;
      throw storageUnavailable(error);
    }
  }

  async acquireAll(
    holder: string,
    pools: readonly { pool: string; capacity: number }[],
    leaseSeconds: number,
    release: readonly string[],
  ): Promise<boolean> {
    checkSlotArguments(holder, undefined, leaseSeconds);
    for (const { capacity } of pools) checkSlotArguments(holder, capacity);
    const now = Math.floor(this.#clock.now());
    const expiry = now + Math.min(maxLeaseMs, Math.ceil(leaseSeconds * 1000));
    const ttl = expiresAt(expiry + maxLeaseMs);
    const signal = AbortSignal.timeout(this.#timeoutMs);
    for (let attempt = 0; ; attempt += 1) {
      try {
        // The fast path of `acquire` in every pool, and the releases, as one transaction.
        await this.#client.send(
          new TransactWriteCommand({
            TransactItems: [
              ...pools.map(({ pool, capacity }) => ({
                Update: this.#takeUpdate(pool, holder, capacity, expiry, ttl),
              })),
              ...release.map((pool) => this.#releaseUpdate(pool, holder)),
            ],
          }),
          { abortSignal: signal },
        );
        return true;
      } catch (error) {
        const codes = cancellationCodes(error);
        if (codes === undefined) throw storageUnavailable(error);
        // Met another transaction on a pool item (every run of the node shares its pool): that says
        // nothing of the room left, so try again before the caller goes pool by pool.
        const contended =
          codes.includes('TransactionConflict') &&
          codes.every((code) => code === 'None' || code === 'TransactionConflict');
        if (!contended || attempt + 1 >= conflictAttempts) return false;
        await pauseAfterContention(attempt, { baseMs: 5, maxMs: 100 });
      }
    }
  }

  async releaseAll(
    pools: readonly string[],
    holder: string,
    watch?: string,
  ): Promise<SlotLease[] | undefined> {
    checkSlotArguments(holder);
    const watching = watch !== undefined && !pools.includes(watch);
    if (pools.length > 1 || watching) {
      const items = [
        ...pools.map((pool) => this.#releaseUpdate(pool, holder)),
        ...(watching ? [this.#emptyCheck(watch)] : []),
      ];
      try {
        await this.#client.send(new TransactWriteCommand({ TransactItems: items }), {
          abortSignal: AbortSignal.timeout(this.#timeoutMs),
        });
        return watching ? [] : undefined;
      } catch (error) {
        // A pool without an item (never used, or gone with its TTL) holds nothing: release one by one.
        if (!(error instanceof TransactionCanceledException)) throw storageUnavailable(error);
        const reasons = error.CancellationReasons ?? [];
        const check = reasons[pools.length];
        const onlyTheCheck =
          watching &&
          check?.Code === 'ConditionalCheckFailed' &&
          reasons.slice(0, pools.length).every((reason) => (reason.Code ?? 'None') === 'None');
        if (onlyTheCheck) {
          // The watched pool holds leases: the slots go back without the check, and its leases are
          // the ones the check failed on.
          await this.releaseAll(pools, holder);
          const watched = poolOf(check.Item);
          return watched === undefined
            ? undefined
            : liveLeases(watched.leases, Math.floor(this.#clock.now()));
        }
      }
    }
    await Promise.all(pools.map((pool) => this.release(pool, holder)));
    return undefined;
  }

  /** Inside a transaction: the pool holds no lease, live or expired (or has no item); its item when it fails. */
  #emptyCheck(pool: string) {
    return {
      ConditionCheck: {
        TableName: this.#table,
        Key: { pk: pool, sk: 0 },
        // `attribute_exists(leases)` before `size`: the emulator fails on `size` of a missing attribute.
        ConditionExpression:
          'attribute_not_exists(leases) OR (attribute_exists(leases) AND size(leases) = :none)',
        ExpressionAttributeValues: { ':none': 0 },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
      },
    };
  }

  /**
   * The fast path's write: the holder's lease, when the pool has room (expired leases counted) or
   * the holder already has a slot.
   */
  #takeUpdate(pool: string, holder: string, capacity: number, expiry: number, ttl: number) {
    return {
      TableName: this.#table,
      Key: { pk: pool, sk: 0 },
      UpdateExpression: 'SET leases.#h = :expiry, version = version + :one, expires_at = :ttl',
      // `attribute_exists(leases)` first: the emulator fails on `size` of a missing attribute.
      ConditionExpression:
        'attribute_exists(leases.#h) OR (attribute_exists(leases) AND size(leases) < :capacity)',
      ExpressionAttributeNames: { '#h': holder },
      ExpressionAttributeValues: { ':expiry': expiry, ':one': 1, ':ttl': ttl, ':capacity': capacity },
    };
  }

  /** Gives `holder`'s slot back inside a transaction: removing a lease not held changes nothing. */
  #releaseUpdate(pool: string, holder: string) {
    return {
      Update: {
        TableName: this.#table,
        Key: { pk: pool, sk: 0 },
        UpdateExpression: 'REMOVE leases.#h SET version = version + :one',
        ConditionExpression: 'attribute_exists(leases)',
        ExpressionAttributeNames: { '#h': holder },
        ExpressionAttributeValues: { ':one': 1 },
      },
    };
  }

  async holders(pool: string): Promise<SlotLease[]> {
    try {
      const result = await this.#client.send(
        new GetCommand({ TableName: this.#table, Key: { pk: pool, sk: 0 }, ConsistentRead: true }),
        { abortSignal: AbortSignal.timeout(this.#timeoutMs) },
      );
      const leases = (result.Item?.['leases'] ?? {}) as Record<string, number>;
      return liveLeases(leases, Math.floor(this.#clock.now()));
    } catch (error) {
      throw storageUnavailable(error);
    }
  }

  /** The fast path: the pool has room (expired leases counted) or the holder already has a slot. */
  async #take(
    pool: string,
    holder: string,
    capacity: number,
    expiry: number,
    now: number,
    signal: AbortSignal,
  ): Promise<SlotDecision> {
    const ttl = expiresAt(expiry + maxLeaseMs);
    try {
      const result = await updateRetryingConflicts(
        this.#client,
        {
          ...this.#takeUpdate(pool, holder, capacity, expiry, ttl),
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
        signal,
      );
      const leases = (result.Attributes?.['leases'] ?? {}) as Record<string, number>;
      return { acquired: true, inUse: liveLeases(leases, now).length, capacity };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException) || oldPool(error) !== undefined) throw error;
    }
    if (capacity < 1) return { acquired: false, inUse: 0, capacity, retryAfterSeconds: 1 };
    // No pool item yet: create it with this lease (a concurrent creator makes this condition fail).
    await retryOnTransactionConflict(() =>
      this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            pk: pool,
            sk: 0,
            kind: 'slot-pool',
            leases: { [holder]: expiry },
            version: 1,
            expires_at: ttl,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
        { abortSignal: signal },
      ),
    );
    return { acquired: true, inUse: 1, capacity };
  }

  /** The slow path: drops the expired leases `seen` holds and takes the slot, if nothing changed since. */
  async #takeAfterPurge(
    pool: string,
    holder: string,
    capacity: number,
    expiry: number,
    now: number,
    seen: PoolItem,
    signal: AbortSignal,
  ): Promise<SlotDecision> {
    const expired = Object.entries(seen.leases)
      .filter(([name, expiresAtMs]) => expiresAtMs <= now && name !== holder)
      .map(([name]) => name);
    const names: Record<string, string> = { '#h': holder };
    expired.forEach((name, i) => (names[`#e${i}`] = name));
    const remove = expired.length === 0 ? '' : ` REMOVE ${expired.map((_, i) => `leases.#e${i}`).join(', ')}`;
    await updateRetryingConflicts(
      this.#client,
      {
        TableName: this.#table,
        Key: { pk: pool, sk: 0 },
        UpdateExpression: `SET leases.#h = :expiry, version = version + :one, expires_at = :ttl${remove}`,
        ConditionExpression: 'version = :version',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: {
          ':expiry': expiry,
          ':one': 1,
          ':ttl': expiresAt(expiry + maxLeaseMs),
          ':version': seen.version,
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
      signal,
    );
    const inUse =
      Object.keys(seen.leases).filter((name) => !expired.includes(name) && name !== holder).length + 1;
    return { acquired: true, inUse, capacity };
  }
}
