import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { emulatorTable } from '../support/emulator-table.ts';

/**
 * What the launcher changes on moto's write path (cli/local/moto_serialized_server.py, points 10, 11
 * and 13) leaves DynamoDB's answers as they were: update expressions of every kind apply and fail
 * as before however often their text recurs, recurring condition texts are judged on each call's
 * own values, and an item over the size limit is still refused, whole, by PutItem and transactions.
 */
const table = 'write-paths';
const emulator = emulatorTable(table);
const db = () => emulator.dynamo();

async function item(pk: string): Promise<Record<string, AttributeValue> | undefined> {
  const { Item } = await emulator
    .dynamo()
    .send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk } } }));
  return Item;
}

function update(
  pk: string,
  expression: string,
  values: Record<string, AttributeValue> = {},
  names: Record<string, string> = {},
): UpdateItemCommand {
  return new UpdateItemCommand({
    TableName: table,
    Key: { pk: { S: pk } },
    UpdateExpression: expression,
    ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
    ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
  });
}

/** The name of the error a call fails with, or 'ok'. */
async function outcome(call: Promise<unknown>): Promise<string> {
  return (await failure(call)).name;
}

/** The name and message of the error a call fails with, or 'ok' and ''. */
async function failure(call: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await call;
    return { name: 'ok', message: '' };
  } catch (error) {
    return error instanceof Error
      ? { name: error.name, message: error.message }
      : { name: String(error), message: '' };
  }
}

describe('the emulator launcher', () => {
  it('applies nested paths, list indexes, functions, ADD, DELETE and REMOVE as DynamoDB does, each time the text recurs', async () => {
    const seed = {
      pk: { S: 'doc' },
      count: { N: '1' },
      tags: { SS: ['a', 'b', 'c'] },
      labels: { SS: ['l'] },
      list: { L: [{ S: 'x0' }, { S: 'x1' }, { S: 'x2' }, { S: 'x3' }] },
      map: { M: { inner: { M: { value: { N: '5' } } } } },
    };
    const expression =
      'SET #m.#in.#v = #m.#in.#v + :n, #l[1] = :s, #log = list_append(if_not_exists(#log, :empty), :entry), ' +
      '#copy = #count ADD #count :n, labels :more DELETE tags :gone REMOVE #l[3], #l[0]';
    const names = {
      '#m': 'map',
      '#in': 'inner',
      '#v': 'value',
      '#l': 'list',
      '#log': 'log',
      '#copy': 'copy',
      '#count': 'count',
    };
    for (const round of [1, 2]) {
      await db().send(new PutItemCommand({ TableName: table, Item: seed }));
      await db().send(
        update(
          'doc',
          expression,
          {
            ':n': { N: String(round * 10) },
            ':s': { S: `set-${round}` },
            ':empty': { L: [] },
            ':entry': { L: [{ S: `entry-${round}` }] },
            ':more': { SS: [`m${round}`] },
            ':gone': { SS: ['a'] },
          },
          names,
        ),
      );
      // REMOVE of two indexes takes the higher first, so each names the element it named before.
      expect(await item('doc')).toEqual({
        pk: { S: 'doc' },
        count: { N: String(1 + round * 10) },
        copy: { N: '1' },
        tags: { SS: ['b', 'c'] },
        labels: { SS: ['l', `m${round}`] },
        list: { L: [{ S: `set-${round}` }, { S: 'x2' }] },
        map: { M: { inner: { M: { value: { N: String(5 + round * 10) } } } } },
        log: { L: [{ S: `entry-${round}` }] },
      });
    }
  });

  it('throws the same errors for a recurring update text as for a new one', async () => {
    await db().send(
      new PutItemCommand({ TableName: table, Item: { pk: { S: 'typed' }, n: { N: '1' }, s: { S: 'x' } } }),
    );
    const refused: [string, Record<string, AttributeValue>][] = [
      ['SET pk = :v', { ':v': { S: 'other' } }],
      ['ADD s :v', { ':v': { N: '1' } }],
      ['SET absent.deeper = :v', { ':v': { N: '1' } }],
      ['SET n = :a, n = :b', { ':a': { N: '1' }, ':b': { N: '2' } }],
      ['SET n = n + :v', { ':v': { S: 'not a number' } }],
    ];
    const answers = async () => {
      const seen: string[] = [];
      for (const [expression, values] of refused) {
        const { name, message } = await failure(db().send(update('typed', expression, values)));
        seen.push(`${expression} → ${name}: ${message}`);
      }
      return seen;
    };
    const first = await answers();
    expect(first).toEqual([
      expect.stringMatching(/^SET pk = :v → ValidationException: .*Cannot update attribute pk/),
      expect.stringMatching(
        /^ADD s :v → ValidationException: .*operand in the update expression has an incorrect data type/,
      ),
      expect.stringMatching(
        /^SET absent\.deeper = :v → ValidationException: .*document path provided in the update expression is invalid/,
      ),
      expect.stringMatching(/^SET n = :a, n = :b → ValidationException: .*Two document paths overlap/),
      expect.stringMatching(/^SET n = n \+ :v → ValidationException: .*Incorrect operand type/),
    ]);
    expect(await answers()).toEqual(first);
    expect(await item('typed')).toEqual({ pk: { S: 'typed' }, n: { N: '1' }, s: { S: 'x' } });
  });

  it("checks a recurring update text that passed before against each call's own names", async () => {
    await db().send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'named' }, a: { N: '1' } } }));
    const twoPaths = 'SET #x = :one, #y = :two';
    const values = { ':one': { N: '1' }, ':two': { N: '2' } };
    const calls = [
      update('named', twoPaths, values, { '#x': 'a', '#y': 'b' }),
      update('named', twoPaths, values, { '#x': 'a', '#y': 'a' }),
      update('named', twoPaths, values, { '#x': 'pk', '#y': 'b' }),
      update('named', twoPaths, values, { '#x': 'c', '#y': 'd' }),
      update('named', 'SET a = :one SET b = :two', values),
      update('named', 'SET a = :one SET b = :two', values),
    ];
    const seen: string[] = [];
    for (const call of calls) {
      const { name, message } = await failure(db().send(call));
      seen.push(`${name}: ${message}`);
    }
    expect(seen).toEqual([
      'ok: ',
      expect.stringMatching(/^ValidationException: .*Two document paths overlap/),
      expect.stringMatching(/^ValidationException: .*Cannot update attribute pk/),
      'ok: ',
      expect.stringMatching(/^ValidationException: .*The "SET" section can only be used once/),
      expect.stringMatching(/^ValidationException: .*The "SET" section can only be used once/),
    ]);
    expect(await item('named')).toEqual({
      pk: { S: 'named' },
      a: { N: '1' },
      b: { N: '2' },
      c: { N: '1' },
      d: { N: '2' },
    });

    // The text and names that passed above, on a table whose key is one of the paths it sets.
    await db().send(
      new CreateTableCommand({
        TableName: 'keyed-by-b',
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'b', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'b', AttributeType: 'S' }],
      }),
    );
    const onOtherKeys = await failure(
      db().send(
        new UpdateItemCommand({
          TableName: 'keyed-by-b',
          Key: { b: { S: 'x' } },
          UpdateExpression: twoPaths,
          ExpressionAttributeNames: { '#x': 'a', '#y': 'b' },
          ExpressionAttributeValues: values,
        }),
      ),
    );
    expect(`${onOtherKeys.name}: ${onOtherKeys.message}`).toMatch(
      /^ValidationException: .*Cannot update attribute b/,
    );
  });

  it("judges a recurring condition text on each call's own values and names", async () => {
    await db().send(
      new PutItemCommand({ TableName: table, Item: { pk: { S: 'versioned' }, version: { N: '1' } } }),
    );
    const bump = (expected: number, names = { '#v': 'version' }) =>
      db().send(
        new UpdateItemCommand({
          TableName: table,
          Key: { pk: { S: 'versioned' } },
          UpdateExpression: 'SET #v = :next',
          ConditionExpression: '#v = :expected AND attribute_exists(pk)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: {
            ':expected': { N: String(expected) },
            ':next': { N: String(expected + 1) },
          },
        }),
      );
    expect(await outcome(bump(1))).toBe('ok');
    expect(await outcome(bump(1))).toBe(ConditionalCheckFailedException.name);
    expect(await outcome(bump(2))).toBe('ok');
    expect(await outcome(bump(3, { '#v': 'other' }))).toBe(ConditionalCheckFailedException.name);
    expect(await item('versioned')).toEqual({ pk: { S: 'versioned' }, version: { N: '3' } });

    const conditions: [string, Record<string, AttributeValue>, string][] = [
      ['begins_with(#v, :p) OR size(pk) > :n', { ':p': { S: 'x' }, ':n': { N: '3' } }, 'ok'],
      ['begins_with(#v, :p) OR size(pk) > :n', { ':p': { S: 'x' }, ':n': { N: '30' } }, 'failed'],
      ['NOT (#v IN (:a, :b))', { ':a': { N: '1' }, ':b': { N: '2' } }, 'ok'],
      ['NOT (#v IN (:a, :b))', { ':a': { N: '3' }, ':b': { N: '2' } }, 'failed'],
      ['#v BETWEEN :low AND :high', { ':low': { N: '1' }, ':high': { N: '3' } }, 'ok'],
      ['#v BETWEEN :low AND :high', { ':low': { N: '4' }, ':high': { N: '9' } }, 'failed'],
    ];
    for (const [condition, values, expected] of conditions) {
      const result = await outcome(
        db().send(
          new PutItemCommand({
            TableName: table,
            Item: { pk: { S: 'versioned' }, version: { N: '3' } },
            ConditionExpression: condition,
            ExpressionAttributeNames: { '#v': 'version' },
            ExpressionAttributeValues: values,
          }),
        ),
      );
      expect([condition, result]).toEqual([
        condition,
        expected === 'ok' ? 'ok' : ConditionalCheckFailedException.name,
      ]);
    }
  });

  it('fails the same way each time a condition text does not split into tokens, and writes nothing', async () => {
    const failures: string[] = [];
    for (let round = 0; round < 2; round += 1) {
      failures.push(
        await outcome(
          db().send(
            new PutItemCommand({
              TableName: table,
              Item: { pk: { S: 'broken' } },
              ConditionExpression: 'attribute_not_exists(pk) AND %',
            }),
          ),
        ),
      );
    }
    expect(failures[0]).not.toBe('ok');
    expect(failures[1]).toBe(failures[0]);
    expect(await item('broken')).toBeUndefined();
  });

  it('refuses an item one byte over the size limit, from PutItem and inside a transaction, and keeps one at it', async () => {
    // moto's limit is 405,000 bytes of names and values (DynamoDB's own is 400 KB); the item holds
    // "pk" + its value, "first" + a string, and "second" + a map of a list of one string.
    const sized = (pk: string, bytes: number) => {
      const fixed = 'pk'.length + pk.length + 'first'.length + 200_000 + 'second'.length + 'nested'.length;
      return {
        pk: { S: pk },
        first: { S: 'a'.repeat(200_000) },
        second: { M: { nested: { L: [{ S: 'b'.repeat(bytes - fixed) }] } } },
      };
    };
    const tooBig = await failure(
      db().send(new PutItemCommand({ TableName: table, Item: sized('big', 405_001) })),
    );
    expect(tooBig).toEqual({
      name: 'ValidationException',
      message: expect.stringContaining('Item size has exceeded the maximum allowed size'),
    });
    expect(
      await outcome(
        db().send(
          new TransactWriteItemsCommand({
            TransactItems: [
              { Put: { TableName: table, Item: { pk: { S: 'small' } } } },
              { Put: { TableName: table, Item: sized('big', 405_001) } },
            ],
          }),
        ),
      ),
    ).toBe('ValidationException');
    expect(await item('big')).toBeUndefined();
    expect(await item('small')).toBeUndefined();

    await db().send(new PutItemCommand({ TableName: table, Item: sized('fits', 405_000) }));
    expect(await item('fits')).toEqual(sized('fits', 405_000));
  });
});
