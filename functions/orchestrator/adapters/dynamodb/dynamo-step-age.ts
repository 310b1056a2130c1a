import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { defaultLimiterTimeoutMs, expiresAt } from '../../../shared/limits/adapters/dynamo-rate-limiter.ts';
import { storageUnavailable } from '../../../shared/storage/dynamo-errors.ts';
import { platformKeys } from '../../../shared/storage/keys.ts';
import type { Clock } from '../../../shared/timing/clock.ts';
import { systemClock } from '../../../shared/timing/clock.ts';
import type { StepAgePort, StepAgeReading } from '../../ports/step-age-port.ts';

/** Length of one window of noted ages; the report reads the current window and the one before. */
export const stepAgeWindowSeconds = 60;

/**
 * StepAgePort on DynamoDB (HLD §10.2 backpressure): one item per window (`pk` =
 * `platform/step-age`, `sk` = the window's number) holding the largest age noted in it, raised by a
 * conditional write, and expired by TTL. Every worker process remembers only the largest age it
 * wrote for the current window, so it writes only when it sees an older message than before: a few
 * writes per window and process, and memory of one number.
 */
export class DynamoStepAge implements StepAgePort {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  /** The largest age this process wrote, and its window. */
  #written: { window: number; ageMs: number } | undefined;

  constructor(
    client: DynamoDBDocumentClient,
    table: string,
    options: { clock?: Clock; timeoutMs?: number } = {},
  ) {
    this.#client = client;
    this.#table = table;
    this.#clock = options.clock ?? systemClock;
    this.#timeoutMs = options.timeoutMs ?? defaultLimiterTimeoutMs;
  }

  #window(nowMs: number): number {
    return Math.floor(nowMs / (stepAgeWindowSeconds * 1000));
  }

  async record(ageMs: number): Promise<void> {
    const nowMs = this.#clock.now();
    const window = this.#window(nowMs);
    const age = Math.max(0, Math.round(ageMs));
    if (this.#written !== undefined && this.#written.window === window && this.#written.ageMs >= age) return;
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk: platformKeys.stepAge(), sk: window },
          UpdateExpression: 'SET max_age_ms = :age, expires_at = :ttl',
          ConditionExpression: 'attribute_not_exists(max_age_ms) OR max_age_ms < :age',
          ExpressionAttributeValues: {
            ':age': age,
            ':ttl': expiresAt(nowMs + 2 * stepAgeWindowSeconds * 1000),
          },
        }),
        { abortSignal: AbortSignal.timeout(this.#timeoutMs) },
      );
    } catch (error) {
      // Another worker noted an older message in this window already: nothing to raise.
      if (!(error instanceof ConditionalCheckFailedException)) throw storageUnavailable(error);
    }
    this.#written = { window, ageMs: age };
  }

  async oldest(): Promise<StepAgeReading> {
    const window = this.#window(this.#clock.now());
    const keys = [window - 1, window].map((sk) => ({ pk: platformKeys.stepAge(), sk }));
    let items: Record<string, unknown>[];
    try {
      const answer = await this.#client.send(
        new BatchGetCommand({
          RequestItems: { [this.#table]: { Keys: keys, ConsistentRead: true } },
        }),
        { abortSignal: AbortSignal.timeout(this.#timeoutMs) },
      );
      if (Object.keys(answer.UnprocessedKeys ?? {}).length > 0) {
        throw new Error('the step age items were not all read');
      }
      items = answer.Responses?.[this.#table] ?? [];
    } catch (error) {
      throw storageUnavailable(error);
    }
    const ages = items.map((item) => Number(item['max_age_ms'])).filter((age) => Number.isFinite(age));
    return { maxAgeMs: ages.length === 0 ? null : Math.max(...ages), windowSeconds: stepAgeWindowSeconds };
  }
}
