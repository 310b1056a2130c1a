import { BatchGetCommand, GetCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { cancellationCodes, storageUnavailable } from './dynamo-errors.ts';

/**
 * The item reads and transactions the adapters over the node's table share: each turns a storage
 * failure into `storageUnavailable`, so an adapter only decides what its items mean.
 */

/** One item of a transaction (`Put`, `Update`, `Delete` or `ConditionCheck`). */
export type TransactItem = Record<string, unknown>;

/** The item at `pk`/`sk`, or undefined when there is none. */
export async function getItem(
  db: DynamoDBDocumentClient,
  tableName: string,
  key: { pk: string; sk: number },
  consistent: boolean,
): Promise<Record<string, unknown> | undefined> {
  try {
    const result = await db.send(
      new GetCommand({ TableName: tableName, Key: key, ConsistentRead: consistent }),
    );
    return result.Item;
  } catch (error) {
    throw storageUnavailable(error);
  }
}

/** Every item of the partition `pk` (or just `field` of each), read consistently, page after page. */
export async function partitionItems(
  db: DynamoDBDocumentClient,
  tableName: string,
  pk: string,
  field?: string,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  try {
    do {
      const result = await db.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': pk },
          ...(field === undefined
            ? {}
            : { ProjectionExpression: '#field', ExpressionAttributeNames: { '#field': field } }),
          ConsistentRead: true,
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      items.push(...(result.Items ?? []));
      start = result.LastEvaluatedKey;
    } while (start !== undefined);
  } catch (error) {
    throw storageUnavailable(error);
  }
  return items;
}

/** How many Query calls one page of a filtered listing may take before it returns a short page. */
const maxPageReads = 10;

/**
 * One page of the partition `pk` in sort key order: at most `limit` items after the sort key
 * `after` that pass `filter`, and the sort key to resume after (undefined when nothing follows).
 * Each Query reads a bounded number of items, so a page never reads the whole partition; a
 * filtered page that finds few matches may come back short, with a position to go on from.
 */
export async function queryPage(
  db: DynamoDBDocumentClient,
  tableName: string,
  pk: string,
  page: {
    limit: number;
    after?: number | undefined;
    filter?: { expression: string; names: Record<string, string>; values: Record<string, unknown> };
  },
): Promise<{ items: Record<string, unknown>[]; resumeAfter: number | undefined }> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined =
    page.after === undefined ? undefined : { pk, sk: page.after };
  try {
    for (let reads = 0; reads < maxPageReads; reads++) {
      const result = await db.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': pk, ...page.filter?.values },
          ...(page.filter === undefined
            ? {}
            : { FilterExpression: page.filter.expression, ExpressionAttributeNames: page.filter.names }),
          // One more than the page, so a full page knows whether another follows.
          Limit: page.limit + 1 - items.length,
          ConsistentRead: true,
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      items.push(...(result.Items ?? []));
      start = result.LastEvaluatedKey;
      if (items.length > page.limit) {
        const taken = items.slice(0, page.limit);
        return { items: taken, resumeAfter: Number(taken.at(-1)?.['sk']) };
      }
      if (start === undefined) return { items, resumeAfter: undefined };
    }
  } catch (error) {
    throw storageUnavailable(error);
  }
  return { items, resumeAfter: start === undefined ? undefined : Number(start['sk']) };
}

/** The items at `keys` (at most 100), in no particular order; keys that hold nothing are left out. */
export async function batchGet(
  db: DynamoDBDocumentClient,
  tableName: string,
  keys: { pk: string; sk: number }[],
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let pending: Record<string, unknown>[] = keys;
  try {
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= 8) throw new Error('BatchGetItem left keys unprocessed after 8 attempts');
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** attempt)));
      const result = await db.send(
        new BatchGetCommand({ RequestItems: { [tableName]: { Keys: pending, ConsistentRead: true } } }),
      );
      items.push(...(result.Responses?.[tableName] ?? []));
      pending = result.UnprocessedKeys?.[tableName]?.Keys ?? [];
    }
  } catch (error) {
    throw storageUnavailable(error);
  }
  return items;
}

/** Runs a transaction; undefined on success, the per-item cancellation codes when it was canceled. */
export async function transactWrite(
  db: DynamoDBDocumentClient,
  items: TransactItem[],
): Promise<string[] | undefined> {
  try {
    await db.send(
      new TransactWriteCommand({
        TransactItems: items as ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems'],
      }),
    );
    return undefined;
  } catch (error) {
    const codes = cancellationCodes(error);
    if (codes === undefined) throw storageUnavailable(error);
    return codes;
  }
}
