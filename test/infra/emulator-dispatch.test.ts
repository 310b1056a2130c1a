import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMoto } from '../../cli/local/emulator.ts';
import type { EmulatorHandle } from '../../cli/local/emulator.ts';

/**
 * The launcher keeps the backend found for each host and drops the log line of every successful
 * request (cli/local/moto_serialized_server.py, point 7): each service still answers for itself,
 * and a failed request is still logged.
 */
const dir = mkdtempSync(join(tmpdir(), 'emulator-dispatch-'));
const logFile = join(dir, 'moto.log');
let emulator: EmulatorHandle;

beforeAll(async () => {
  emulator = await startMoto({ logFile });
});

afterAll(async () => {
  await emulator.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the emulator launcher', () => {
  it('answers each service from its own backend, request after request, and logs only failed requests', async () => {
    const aws = {
      region: 'us-east-1',
      endpoint: emulator.endpoint,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    };
    const dynamo = new DynamoDBClient(aws);
    const sqs = new SQSClient(aws);
    await dynamo.send(
      new CreateTableCommand({
        TableName: 'dispatch',
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      }),
    );
    for (let round = 0; round < 3; round += 1) {
      const read = await dynamo.send(
        new GetItemCommand({ TableName: 'dispatch', Key: { pk: { S: 'none' } } }),
      );
      expect(read.Item).toBeUndefined();
      // A DynamoDB call then an SQS one: a backend kept for the wrong host would answer with the other's error.
      await expect(sqs.send(new GetQueueUrlCommand({ QueueName: 'missing' }))).rejects.toThrow(
        /queue does not exist/i,
      );
    }
    // Werkzeug colours the request line; the colour codes are left out.
    const lines = readFileSync(logFile, 'utf8')
      .replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), '')
      .split('\n')
      .filter((line) => line.includes('HTTP/1.1"'));
    expect(lines.some((line) => line.includes('" 400 '))).toBe(true);
    expect(lines.filter((line) => /" [23]\d\d /.test(line))).toEqual([]);
  });
});
