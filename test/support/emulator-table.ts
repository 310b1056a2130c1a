import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll } from 'vitest';
import { startMoto } from '../../cli/local/emulator.ts';
import type { EmulatorHandle } from '../../cli/local/emulator.ts';

/**
 * Starts an emulator of its own for the calling test file, with one table keyed by `pk` alone, and
 * stops it after the file: for tests of what the emulator launcher changes in moto.
 */
export function emulatorTable(table: string): { dynamo: () => DynamoDBClient } {
  let emulator: EmulatorHandle | undefined;
  let dynamo: DynamoDBClient | undefined;
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
    dynamo?.destroy();
    await emulator?.stop();
  });
  return {
    dynamo: () => {
      if (dynamo === undefined) throw new Error('the emulator starts before the first test');
      return dynamo;
    },
  };
}
