import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, storageUnavailable } from '../../storage/dynamo-errors.ts';
import type { AlertDedupPort } from '../alert-dedup-port.ts';

/** The budget of one dedup call, SDK retries included (HLD §10.1). */
const defaultTimeoutMs = 3_000;

/**
 * {@link AlertDedupPort} on the node's table: one item per alarm key (`pk` = `node/alerts/<key>`,
 * `sk` 0) holding when it was claimed and until when. A claim is one conditional put that succeeds
 * only when no item exists or its window has passed; `expires_at` (the table's TTL) removes it a
 * while after. The key is node-wide, outside every tenant's `tenant/` prefix: alerts are the
 * operator's, and a per-tenant alarm's key carries only the tenant id.
 */
export class DynamoAlertDedup implements AlertDedupPort {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #timeoutMs: number;

  constructor(client: DynamoDBDocumentClient, table: string, options: { timeoutMs?: number } = {}) {
    this.#client = client;
    this.#table = table;
    this.#timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  }

  async claim(key: string, nowMs: number, windowMs: number): Promise<boolean> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            pk: pkOf(key),
            sk: 0,
            claimed_at: nowMs,
            until: nowMs + windowMs,
            expires_at: Math.ceil((nowMs + windowMs) / 1000) + 86_400,
          },
          ConditionExpression: 'attribute_not_exists(pk) OR #until <= :now',
          ExpressionAttributeNames: { '#until': 'until' },
          ExpressionAttributeValues: { ':now': nowMs },
        }),
        { abortSignal: AbortSignal.timeout(this.#timeoutMs) },
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw storageUnavailable(error);
    }
  }

  async release(key: string, claimedAtMs: number): Promise<void> {
    try {
      await this.#client.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: { pk: pkOf(key), sk: 0 },
          ConditionExpression: 'claimed_at = :at',
          ExpressionAttributeValues: { ':at': claimedAtMs },
        }),
        { abortSignal: AbortSignal.timeout(this.#timeoutMs) },
      );
    } catch (error) {
      // Someone claimed it since: theirs stays.
      if (isConditionFailure(error)) return;
      throw storageUnavailable(error);
    }
  }
}

function pkOf(key: string): string {
  return `node/alerts/${key}`;
}
