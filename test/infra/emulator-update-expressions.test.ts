import { GetItemCommand, TransactWriteItemsCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { emulatorTable } from '../support/emulator-table.ts';

/**
 * The launcher parses each update expression text once (cli/local/moto_serialized_server.py, point
 * 9): an update whose text was seen before still applies its own values, is still checked against
 * its own placeholder values, and a text that does not parse fails every time.
 */
const table = 'update-expressions';
const emulator = emulatorTable(table);
const add = 'SET #total = if_not_exists(#total, :zero) + :n, #last = :n';

const update = (pk: string, n: number, names = { '#total': 'total', '#last': 'last' }) =>
  new UpdateItemCommand({
    TableName: table,
    Key: { pk: { S: pk } },
    UpdateExpression: add,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: { ':zero': { N: '0' }, ':n': { N: String(n) } },
  });

async function read(pk: string): Promise<{ total?: string; last?: string }> {
  const { Item } = await emulator
    .dynamo()
    .send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk } } }));
  return {
    ...(Item?.['total'] ? { total: Item['total'].N } : {}),
    ...(Item?.['last'] ? { last: Item['last'].N } : {}),
  };
}

describe('the emulator launcher', () => {
  it('applies each update with its own values and names when the same expression text recurs', async () => {
    for (const n of [1, 2, 3]) await emulator.dynamo().send(update('a', n));
    await emulator.dynamo().send(update('b', 10));
    await emulator.dynamo().send(update('c', 5, { '#total': 'other', '#last': 'last' }));
    await emulator.dynamo().send(
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
    await emulator.dynamo().send(update('d', 1));
    const missingValue = new UpdateItemCommand({
      TableName: table,
      Key: { pk: { S: 'd' } },
      UpdateExpression: add,
      ExpressionAttributeNames: { '#total': 'total', '#last': 'last' },
      ExpressionAttributeValues: { ':zero': { N: '0' } },
    });
    await expect(emulator.dynamo().send(missingValue)).rejects.toThrow(/:n/);
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
      await expect(emulator.dynamo().send(broken)).rejects.toThrow(/syntax error/i);
    }
    expect(await read('e')).toEqual({});
  });
});
