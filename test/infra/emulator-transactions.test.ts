import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import type { TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMoto } from '../../cli/local/emulator.ts';
import type { EmulatorHandle } from '../../cli/local/emulator.ts';

/**
 * The launcher applies a transaction once per ClientRequestToken, as DynamoDB does
 * (cli/local/moto_serialized_server.py, point 8): an SDK retry of a transaction that applied but
 * answered too late must not apply it again.
 */
let emulator: EmulatorHandle;
let dynamo: DynamoDBClient;
const table = 'transactions';

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
  const read = await dynamo.send(
    new GetItemCommand({ TableName: table, Key: { pk: { S: pk } }, ConsistentRead: true }),
  );
  const n = read.Item?.['n']?.N;
  return n === undefined ? undefined : Number(n);
}

describe('transactions on the emulator', () => {
  it('applies each call without a client token', async () => {
    await dynamo.send(new TransactWriteItemsCommand({ TransactItems: [add('plain', 1)] }));
    await dynamo.send(new TransactWriteItemsCommand({ TransactItems: [add('plain', 1)] }));
    expect(await counter('plain')).toBe(2);
  });

  it('returns success for a repeat with the same token and items, and writes once', async () => {
    const call = { TransactItems: [add('once', 1)], ClientRequestToken: 'token-once' };
    await dynamo.send(new TransactWriteItemsCommand(call));
    await dynamo.send(new TransactWriteItemsCommand(call));
    await dynamo.send(new TransactWriteItemsCommand(call));
    expect(await counter('once')).toBe(1);
  });

  it('throws IdempotentParameterMismatchException for the same token with other items, and writes nothing', async () => {
    await dynamo.send(
      new TransactWriteItemsCommand({ TransactItems: [add('mismatch', 1)], ClientRequestToken: 'token-mm' }),
    );
    await expect(
      dynamo.send(
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
    await expect(dynamo.send(new TransactWriteItemsCommand(call))).rejects.toMatchObject({
      name: 'TransactionCanceledException',
    });
    expect(await counter('retried')).toBeUndefined();
    await dynamo.send(new TransactWriteItemsCommand({ TransactItems: [open('retried')] }));
    await dynamo.send(new TransactWriteItemsCommand(call));
    await dynamo.send(new TransactWriteItemsCommand(call));
    expect(await counter('retried')).toBe(1);
  });

  it('keeps tokens apart per token: another token applies the same items again', async () => {
    await dynamo.send(
      new TransactWriteItemsCommand({ TransactItems: [add('two-tokens', 1)], ClientRequestToken: 'token-a' }),
    );
    await dynamo.send(
      new TransactWriteItemsCommand({ TransactItems: [add('two-tokens', 1)], ClientRequestToken: 'token-b' }),
    );
    expect(await counter('two-tokens')).toBe(2);
  });
});
