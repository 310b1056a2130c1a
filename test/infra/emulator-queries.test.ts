import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * The emulator launcher makes a Query read only its partition (cli/local/moto_serialized_server.py);
 * these check that the answers are still DynamoDB's: the partition's items only, in key order, with
 * key conditions, filters, limits, paging, descending order and projections.
 */
const endpoint = inject('awsEndpoint');
const raw = new DynamoDBClient({
  region: 'us-east-1',
  endpoint,
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});
const db = DynamoDBDocumentClient.from(raw);
const tableName = `queries-${randomUUID()}`;
const partitions = ['a', 'b', 'c'];
const perPartition = 30;

beforeAll(async () => {
  await raw.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'N' },
      ],
    }),
  );
  const items = partitions.flatMap((pk) =>
    // Written out of order, so order in the answers comes from the sort key.
    Array.from({ length: perPartition }, (_, i) => ({ pk, sk: (i * 7) % perPartition, odd: i % 2 === 1 })),
  );
  for (let start = 0; start < items.length; start += 25)
    await db.send(
      new BatchWriteCommand({
        RequestItems: {
          [tableName]: items.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } })),
        },
      }),
    );
});

afterAll(async () => {
  await raw.send(new DeleteTableCommand({ TableName: tableName }));
});

async function query(input: Omit<ConstructorParameters<typeof QueryCommand>[0], 'TableName'>) {
  return db.send(new QueryCommand({ TableName: tableName, ...input }));
}

describe('queries on the emulator', () => {
  it('returns only the queried partition, in sort key order', async () => {
    const answer = await query({
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': 'b' },
    });
    expect(answer.Items?.map((item) => item['pk'])).toEqual(Array(perPartition).fill('b'));
    expect(answer.Items?.map((item) => item['sk'])).toEqual(
      Array.from({ length: perPartition }, (_, i) => i),
    );
    expect(answer.LastEvaluatedKey).toBeUndefined();
  });

  it('returns pages that resume where the last one ended, in both directions', async () => {
    for (const forward of [true, false]) {
      const seen: number[] = [];
      let start: Record<string, unknown> | undefined;
      do {
        const page = await query({
          KeyConditionExpression: 'pk = :pk AND sk > :after',
          ExpressionAttributeValues: { ':pk': 'c', ':after': 4 },
          ScanIndexForward: forward,
          Limit: 7,
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        });
        seen.push(...(page.Items ?? []).map((item) => Number(item['sk'])));
        start = page.LastEvaluatedKey;
      } while (start !== undefined);
      const expected = Array.from({ length: perPartition - 5 }, (_, i) => i + 5);
      expect(seen).toEqual(forward ? expected : expected.reverse());
    }
  });

  it('returns filtered and projected items with the count of items read', async () => {
    const answer = await query({
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
      FilterExpression: 'odd = :odd',
      ProjectionExpression: 'sk',
      ExpressionAttributeValues: { ':pk': 'a', ':low': 10, ':high': 19, ':odd': true },
    });
    expect(answer.ScannedCount).toBe(10);
    expect(answer.Items?.length).toBe(5);
    for (const item of answer.Items ?? []) expect(Object.keys(item)).toEqual(['sk']);
  });

  it('returns nothing for a partition that holds nothing, and does not create it', async () => {
    const answer = await query({
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': 'none' },
    });
    expect(answer.Items).toEqual([]);
    const all = await db.send(new ScanCommand({ TableName: tableName, Select: 'COUNT' }));
    expect(all.Count).toBe(partitions.length * perPartition);
  });
});
