import { GetItemCommand, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import type { TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { emulatorTable } from '../support/emulator-table.ts';

/**
 * The launcher applies a transaction once per ClientRequestToken, as DynamoDB does
 * (cli/local/moto_serialized_server.py, point 8): an SDK retry of a transaction that applied but
 * answered too late must not apply it again.
 */
const table = 'transactions';
const emulator = emulatorTable(table);

/** Adds `by` to the counter of item `pk`, optionally only while the item is `open`. */
function add(pk: string, by: number, options: { whileOpen?: boolean } = {}): TransactWriteItem {
  return {
    Update: {
      TableName: table,
      Key: { pk: { S: pk } },
      // A binary attribute too: the emulator compares repeats by their items, binary values included.
      UpdateExpression: 'ADD n :by SET tag = :tag',
      ...(options.whileOpen === true ? { ConditionExpression: 'attribute_exists(open_since)' } : {}),
      ExpressionAttributeValues: { ':by': { N: String(by) }, ':tag': { B: new Uint8Array([0, 255, by]) } },
    },
  };
}

function open(pk: string): TransactWriteItem {
  return {
    Update: {
      TableName: table,
      Key: { pk: { S: pk } },
      UpdateExpression: 'SET open_since = :now',
      ExpressionAttributeValues: { ':now': { N: '1' } },
    },
  };
}

async function counter(pk: string): Promise<number | undefined> {
  const read = await emulator
    .dynamo()
    .send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk } }, ConsistentRead: true }));
  const n = read.Item?.['n']?.N;
  return n === undefined ? undefined : Number(n);
}

describe('transactions on the emulator', () => {
  it('applies each call without a client token', async () => {
    await emulator.dynamo().send(new TransactWriteItemsCommand({ TransactItems: [add('plain', 1)] }));
    await emulator.dynamo().send(new TransactWriteItemsCommand({ TransactItems: [add('plain', 1)] }));
    expect(await counter('plain')).toBe(2);
  });

  it('returns success for a repeat with the same token and items, and writes once', async () => {
    const call = { TransactItems: [add('once', 1)], ClientRequestToken: 'token-once' };
    await emulator.dynamo().send(new TransactWriteItemsCommand(call));
    await emulator.dynamo().send(new TransactWriteItemsCommand(call));
    await emulator.dynamo().send(new TransactWriteItemsCommand(call));
    expect(await counter('once')).toBe(1);
  });

  it('throws IdempotentParameterMismatchException for the same token with other items, and writes nothing', async () => {
    await emulator.dynamo().send(
      new TransactWriteItemsCommand({
        TransactItems: [add('mismatch', 1)],
        ClientRequestToken: 'token-mm',
      }),
    );
    await expect(
      emulator.dynamo().send(
        new TransactWriteItemsCommand({
          TransactItems: [add('mismatch', 5)],
          ClientRequestToken: 'token-mm',
        }),
      ),
    ).rejects.toMatchObject({ name: 'IdempotentParameterMismatchException' });
    expect(await counter('mismatch')).toBe(1);
  });

  it('evaluates a cancelled transaction again when it is retried with its token', async () => {
    const call = {
      TransactItems: [add('retried', 1, { whileOpen: true })],
      ClientRequestToken: 'token-retry',
    };
    await expect(emulator.dynamo().send(new TransactWriteItemsCommand(call))).rejects.toMatchObject({
      name: 'TransactionCanceledException',
    });
    expect(await counter('retried')).toBeUndefined();
    await emulator.dynamo().send(new TransactWriteItemsCommand({ TransactItems: [open('retried')] }));
    await emulator.dynamo().send(new TransactWriteItemsCommand(call));
    await emulator.dynamo().send(new TransactWriteItemsCommand(call));
    expect(await counter('retried')).toBe(1);
  });

  it('keeps tokens apart per token: another token applies the same items again', async () => {
    await emulator.dynamo().send(
      new TransactWriteItemsCommand({
        TransactItems: [add('two-tokens', 1)],
        ClientRequestToken: 'token-a',
      }),
    );
    await emulator.dynamo().send(
      new TransactWriteItemsCommand({
        TransactItems: [add('two-tokens', 1)],
        ClientRequestToken: 'token-b',
      }),
    );
    expect(await counter('two-tokens')).toBe(2);
  });
});
