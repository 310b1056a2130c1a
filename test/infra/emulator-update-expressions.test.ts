import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMoto } from '../../cli/local/emulator.ts';
import type { EmulatorHandle } from '../../cli/local/emulator.ts';

/**
 * The launcher parses each update expression text once (cli/local/moto_serialized_server.py, point
 * 9): an update whose text was seen before still applies its own values, is still checked against
 * its own placeholder values, and a text that does not parse fails every time.
 */
let emulator: EmulatorHandle;
let dynamo: DynamoDBClient;
const table = 'update-expressions';
const add = 'SET #total = if_not_exists(#total, :zero) + :n, #last = :n';

beforeAll(async () => {
  emulator = await startMoto();
  dynamo = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: emulator.endpoint,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  await dynamo.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    }),
  );
});

afterAll(async () => {
  dynamo.destroy();
  await emulator.stop();
});

const update = (pk: string, n: number, names = { '#total': 'total', '#last': 'last' }) =>
  new UpdateItemCommand({
    TableName: table,
    Key: { pk: { S: pk } },
    UpdateExpression: add,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: { ':zero': { N: '0' }, ':n': { N: String(n) } },
  });

async function read(pk: string): Promise<{ total?: string; last?: string }> {
  const { Item } = await dynamo.send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk } } }));
  return {
    ...(Item?.['total'] ? { total: Item['total'].N } : {}),
    ...(Item?.['last'] ? { last: Item['last'].N } : {}),
  };
}

describe('the emulator launcher', () => {
  it('applies each update with its own values and names when the same expression text recurs', async () => {
    for (const n of [1, 2, 3]) await dynamo.send(update('a', n));
    await dynamo.send(update('b', 10));
    await dynamo.send(update('c', 5, { '#total': 'other', '#last': 'last' }));
    await dynamo.send(
      new TransactWriteItemsCommand({
        TransactItems: [4, 20].map((n, index) => ({
          Update: {
            TableName: table,
            Key: { pk: { S: index === 0 ? 'a' : 'b' } },
            UpdateExpression: add,
            ExpressionAttributeNames: { '#total': 'total', '#last': 'last' },
            ExpressionAttributeValues: { ':zero': { N: '0' }, ':n': { N: String(n) } },
          },
        })),
      }),
    );
    expect(await read('a')).toEqual({ total: '10', last: '4' });
    expect(await read('b')).toEqual({ total: '30', last: '20' });
    expect(await read('c')).toEqual({ last: '5' });
  });

  it('throws when a recurring expression text lacks a value this time, and changes nothing', async () => {
    await dynamo.send(update('d', 1));
    const missingValue = new UpdateItemCommand({
      TableName: table,
      Key: { pk: { S: 'd' } },
      UpdateExpression: add,
      ExpressionAttributeNames: { '#total': 'total', '#last': 'last' },
      ExpressionAttributeValues: { ':zero': { N: '0' } },
    });
    await expect(dynamo.send(missingValue)).rejects.toThrow(/:n/);
    expect(await read('d')).toEqual({ total: '1', last: '1' });
  });

  it('throws for an expression that does not parse, every time it is sent', async () => {
    const broken = new UpdateItemCommand({
      TableName: table,
      Key: { pk: { S: 'e' } },
      UpdateExpression: 'SET #total = = :n',
      ExpressionAttributeNames: { '#total': 'total' },
      ExpressionAttributeValues: { ':n': { N: '1' } },
    });
    for (let attempt = 0; attempt < 3; attempt += 1) {
      await expect(dynamo.send(broken)).rejects.toThrow(/syntax error/i);
    }
    expect(await read('e')).toEqual({});
  });
});
