import { BatchGetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { storageUnavailable } from '../../../shared/storage/dynamo-errors.ts';
import { hashedSortKey } from '../../../shared/storage/keys.ts';

/**
 * A directory partition (HLD §4.2, no secondary index): one small item per live id under one `pk`,
 * `sk` = the id's directory sort key. Listing reads the whole partition (a few bytes per id) and
 * orders the ids; the records themselves stay under their own canonical keys.
 */

type TransactItem = Record<string, unknown>;

/** The write that enters `id` in the directory (conditional: a hash collision with another id fails it). */
export function directoryPut(tableName: string, pk: string, id: string, field: string): TransactItem {
  return {
    Put: {
      TableName: tableName,
      Item: { pk, sk: hashedSortKey(id), kind: 'directory_entry', [field]: id },
      ConditionExpression: 'attribute_not_exists(pk) OR #id = :id',
      ExpressionAttributeNames: { '#id': field },
      ExpressionAttributeValues: { ':id': id },
    },
  };
}

/** The write that removes `id` from the directory. */
export function directoryDelete(tableName: string, pk: string, id: string): TransactItem {
  return { Delete: { TableName: tableName, Key: { pk, sk: hashedSortKey(id) } } };
}

/** Every id of the directory, in no particular order. */
export async function directoryIds(
  db: DynamoDBDocumentClient,
  tableName: string,
  pk: string,
  field: string,
): Promise<string[]> {
  const ids: string[] = [];
  let start: Record<string, unknown> | undefined;
  try {
    do {
      const result = await db.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': pk },
          ProjectionExpression: '#id',
          ExpressionAttributeNames: { '#id': field },
          ConsistentRead: true,
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      for (const item of result.Items ?? []) {
        const id = item[field];
        if (typeof id === 'string') ids.push(id);
      }
      start = result.LastEvaluatedKey;
    } while (start !== undefined);
  } catch (error) {
    throw storageUnavailable(error);
  }
  return ids;
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
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** attempt)));
      if (attempt >= 8) throw new Error('BatchGetItem left keys unprocessed after 8 attempts');
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
