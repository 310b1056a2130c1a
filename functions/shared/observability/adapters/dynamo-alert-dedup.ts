import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, storageUnavailable } from '../../storage/dynamo-errors.ts';
import { newClaimToken } from '../alert-dedup-port.ts';
import type { AlertDedupPort } from '../alert-dedup-port.ts';

/** The budget of one dedup call, SDK retries included (HLD §10.1). */
const defaultTimeoutMs = 3_000;

/**
 * {@link AlertDedupPort} on the node's table: one item per alarm key (`pk` = `node/alerts/<key>`,
 * `sk` 0) holding the claim's random token, when it was claimed and until when. A claim is one conditional put that succeeds
 * only when no item exists or its window has passed; giving it back is a delete conditional on the
 * token, so a claim made since (even in the same millisecond) stays; `expires_at` (the table's TTL) removes it a
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

  async claim(key: string, nowMs: number, windowMs: number): Promise<string | undefined> {
    const token = newClaimToken();
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            pk: pkOf(key),
            sk: 0,
            claim_token: token,
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
      return token;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw storageUnavailable(error);
    }
  }

  async release(key: string, token: string): Promise<void> {
    try {
      await this.#client.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: { pk: pkOf(key), sk: 0 },
          ConditionExpression: 'claim_token = :token',
          ExpressionAttributeValues: { ':token': token },
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
