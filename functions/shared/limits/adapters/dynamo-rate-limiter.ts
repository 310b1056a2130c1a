import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { storageUnavailable } from '../../storage/dynamo-errors.ts';
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
};

/** The default budget of one limiter call: well inside API Gateway's 29 s and a step's timeout. */
export const defaultLimiterTimeoutMs = 5_000;
/** Conditional writes one call tries before it gives up; each lost race means another caller won. */
const maxWrites = 4;
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
 */
export class DynamoRateLimiter implements RateLimiterPort {
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

  async take(key: string, limit: RateLimit): Promise<RateDecision> {
    const gcra = gcraOf(limit);
    const signal = AbortSignal.timeout(this.#timeoutMs);
    const now = Math.floor(this.#clock.now());
    // What the bucket held at the last failed write; undefined = unknown (try the busy-bucket write).
    let known: { tat: number | undefined } | undefined;
    for (let attempt = 0; attempt < maxWrites; attempt += 1) {
      const idle = known !== undefined && (known.tat === undefined || known.tat < now);
      if (known?.tat !== undefined && !idle && known.tat > highestAdmittingTat(gcra, now)) {
        return refusedDecision(gcra, now, known.tat);
      }
      try {
        const tat = idle
          ? await this.#restart(key, gcra, now, signal)
          : await this.#advance(key, gcra, now, signal);
        return allowedDecision(gcra, now, tat);
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw storageUnavailable(error);
        known = { tat: oldNumber(error, 'tat') };
      }
    }
    // Every write lost a race: the bucket is being filled by others right now, so refuse (the
    // conservative answer) and say when it would admit again by the last `tat` seen.
    return refusedDecision(gcra, now, Math.max(known?.tat ?? now, highestAdmittingTat(gcra, now) + 1));
  }

  /** A bucket in use that admits one more: `tat += interval`. */
  async #advance(key: string, gcra: Gcra, now: number, signal: AbortSignal): Promise<number> {
    const result = await this.#client.send(
      new UpdateCommand({
        TableName: this.#table,
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
        ReturnValues: 'UPDATED_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
      { abortSignal: signal },
    );
    const tat: unknown = result.Attributes?.['tat'];
    return typeof tat === 'number' ? tat : now + gcra.intervalMs;
  }

  /** An idle (or new) bucket: `tat = now + interval`. */
  async #restart(key: string, gcra: Gcra, now: number, signal: AbortSignal): Promise<number> {
    const tat = now + gcra.intervalMs;
    await this.#client.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: { pk: key, sk: 0 },
        UpdateExpression: 'SET tat = :tat, expires_at = :expires, kind = :kind',
        ConditionExpression: 'attribute_not_exists(tat) OR tat < :now',
        ExpressionAttributeValues: {
          ':tat': tat,
          ':now': now,
          ':expires': expiresAt(tat),
          ':kind': 'rate-limit',
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
      { abortSignal: signal },
    );
    return tat;
  }
}

/** The TTL (epoch seconds) of an item whose state matters until `untilMs`. */
export function expiresAt(untilMs: number): number {
  return Math.ceil(untilMs / 1000) + limitItemGraceSeconds;
}
