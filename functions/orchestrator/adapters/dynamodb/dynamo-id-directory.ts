import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { partitionItems } from '../../../shared/storage/dynamo-items.ts';
import type { TransactItem } from '../../../shared/storage/dynamo-items.ts';
import { hashedSortKey } from '../../../shared/storage/keys.ts';

/**
 * A directory partition (HLD §4.2, no secondary index): one small item per live id under one `pk`,
 * `sk` = the id's directory sort key. Listing reads the whole partition (a few bytes per id) and
 * orders the ids; the records themselves stay under their own canonical keys.
 */

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
  return (await partitionItems(db, tableName, pk, field))
    .map((item) => item[field])
    .filter((id): id is string => typeof id === 'string');
}
