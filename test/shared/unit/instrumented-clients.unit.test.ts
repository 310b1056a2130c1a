import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isStorageRefusal, tracedClient } from '../../../functions/shared/aws/instrumented-clients.ts';
import type { AwsClientTracer } from '../../../functions/shared/aws/instrumented-clients.ts';
import { createDocumentClient } from '../../../functions/shared/storage/dynamo-client.ts';

function fakeTracer(enabled: boolean) {
  const captured: unknown[] = [];
  const tracer: AwsClientTracer = {
    isTracingEnabled: () => enabled,
    captureAWSv3Client: <T>(client: T) => {
      captured.push(client);
      return client;
    },
  };
  return { tracer, captured };
}

/** What the fake DynamoDB endpoint answers next, as DynamoDB's JSON protocol does. */
let answer: { type: string; message: string } = { type: 'ThrottlingException', message: 'slow down' };
let received = 0;
const server = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    received += 1;
    response.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
    response.end(
      JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${answer.type}`, message: answer.message }),
    );
  });
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

function tableClient(onStorageRefusal: () => void, maxAttempts: number) {
  return createDocumentClient(
    {
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      maxAttempts,
    },
    { onStorageRefusal },
  );
}

async function refusalsOf(type: string, message: string, maxAttempts = 1) {
  answer = { type, message };
  received = 0;
  const onRefusal = vi.fn();
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
  const error = await tableClient(onRefusal, maxAttempts)
    .send(new PutCommand({ TableName: 'agentos', Item: { pk: 'a', sk: 'b' } }))
    .catch((failure: unknown) => failure);
  vi.unstubAllEnvs();
  return { refusals: onRefusal.mock.calls.length, attempts: received, error: error as Error };
}

describe('AWS client tracing', () => {
  it('returns the client captured by the tracer when tracing is on', () => {
    const { tracer, captured } = fakeTracer(true);
    const client = new DynamoDBClient({ region: 'us-east-1' });
    expect(tracedClient(client, tracer)).toBe(client);
    expect(captured).toEqual([client]);
    createDocumentClient({ region: 'us-east-1', maxAttempts: 1 }, { tracer });
    expect(captured).toHaveLength(2);
    expect(captured[1]).toBeInstanceOf(DynamoDBClient);
  });

  it('returns the client untouched when tracing is off or no tracer is given', () => {
    const { tracer, captured } = fakeTracer(false);
    const client = new DynamoDBClient({ region: 'us-east-1' });
    expect(tracedClient(client, tracer)).toBe(client);
    expect(tracedClient(client, undefined)).toBe(client);
    expect(captured).toEqual([]);
  });
});

describe('DynamoDB refusals (StorageThrottles)', () => {
  it('returns one refusal per throttled attempt, retried ones included, and the error to the caller', async () => {
    const { refusals, attempts, error } = await refusalsOf(
      'ProvisionedThroughputExceededException',
      'throughput exceeded',
      2,
    );
    expect(attempts).toBe(2);
    expect(refusals).toBe(2);
    expect(error.name).toBe('ProvisionedThroughputExceededException');
  });

  it('returns a refusal for a write refused for its item size', async () => {
    const { refusals, error } = await refusalsOf(
      'ValidationException',
      'Item size has exceeded the maximum allowed size',
    );
    expect(refusals).toBe(1);
    expect(error.name).toBe('ValidationException');
  });

  it('returns no refusal for a failed condition or another validation error', async () => {
    expect(
      (await refusalsOf('ConditionalCheckFailedException', 'The conditional request failed')).refusals,
    ).toBe(0);
    expect(
      (await refusalsOf('ValidationException', 'One or more parameter values were invalid')).refusals,
    ).toBe(0);
  });
});

describe('refused transactions', () => {
  const canceled = (...codes: { Code: string; Message?: string }[]) =>
    new TransactionCanceledException({ message: 'canceled', $metadata: {}, CancellationReasons: codes });

  it('returns true for a transaction canceled for throttling or size, false for a failed condition', () => {
    expect(isStorageRefusal(canceled({ Code: 'None' }, { Code: 'ThrottlingError' }))).toBe(true);
    expect(isStorageRefusal(canceled({ Code: 'ItemCollectionSizeLimitExceeded' }))).toBe(true);
    expect(isStorageRefusal(canceled({ Code: 'ValidationError', Message: 'Item size has exceeded' }))).toBe(
      true,
    );
    expect(isStorageRefusal(canceled({ Code: 'ConditionalCheckFailed' }))).toBe(false);
  });
});
