import { Agent } from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMoto } from '../../cli/local/emulator.ts';
import type { EmulatorHandle } from '../../cli/local/emulator.ts';

/**
 * The launcher keeps a connection open between requests (cli/local/moto_serialized_server.py,
 * point 14): each request's body is read before the next request on the same connection, answers
 * arrive in order and whole, and a connection closes when its client asks, speaks HTTP/1.0, or sends
 * a chunked body.
 */
let emulator: EmulatorHandle;
let port: number;

beforeAll(async () => {
  emulator = await startMoto();
  port = Number(new URL(emulator.endpoint).port);
});

afterAll(async () => {
  await emulator.stop();
});

/** One DynamoDB JSON request as raw HTTP/1.1 bytes, with its body's exact Content-Length. */
function dynamoRequest(
  target: string,
  body: unknown,
  options: { version?: string; headers?: Record<string, string> } = {},
): string {
  const text = JSON.stringify(body);
  const headers = {
    Host: `127.0.0.1:${port}`,
    'Content-Type': 'application/x-amz-json-1.0',
    'X-Amz-Target': `DynamoDB_20120810.${target}`,
    Authorization:
      'AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
    'Content-Length': String(Buffer.byteLength(text)),
    ...options.headers,
  };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
  return `POST / ${options.version ?? 'HTTP/1.1'}\r\n${lines.join('\r\n')}\r\n\r\n${text}`;
}

type Answer = { status: number; headers: Record<string, string>; body: string };

/**
 * Reads answers off one socket until `count` arrived whole and, when `untilClosed`, until the server
 * closes it. Each answer is framed as HTTP/1.1 frames it: no body after a HEAD (`heads` lists which
 * answers are to one), a 204 or a 304, else its Content-Length; one without fails the read.
 */
async function readAnswers(
  socket: Socket,
  count: number,
  untilClosed = false,
  heads: readonly number[] = [],
): Promise<{ answers: Answer[]; closed: boolean }> {
  let buffer = Buffer.alloc(0);
  const answers: Answer[] = [];
  let closed = false;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${answers.length} of ${count} answers`)), 20_000);
    const settle = (): void => {
      if (answers.length >= count && (!untilClosed || closed)) {
        clearTimeout(timer);
        socket.off('data', onData);
        resolve();
      }
    };
    const onData = (chunk: Buffer): void => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) break;
        const [statusLine = '', ...headerLines] = buffer.subarray(0, end).toString('latin1').split('\r\n');
        const headers = Object.fromEntries(
          headerLines.map((line) => {
            const colon = line.indexOf(':');
            return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
          }),
        );
        const status = Number(statusLine.split(' ')[1]);
        const bodiless = heads.includes(answers.length) || status === 204 || status === 304;
        const length = bodiless ? 0 : Number(headers['content-length'] ?? Number.NaN);
        if (!Number.isInteger(length) || length < 0) {
          clearTimeout(timer);
          socket.off('data', onData);
          reject(new Error(`an answer without a usable Content-Length: ${statusLine}`));
          return;
        }
        if (buffer.length < end + 4 + length) break;
        answers.push({
          status,
          headers,
          body: buffer.subarray(end + 4, end + 4 + length).toString('utf8'),
        });
        buffer = buffer.subarray(end + 4 + length);
      }
      settle();
    };
    socket.on('data', onData);
    socket.once('close', () => {
      closed = true;
      settle();
    });
    socket.once('error', reject);
  });
  return { answers, closed };
}

async function open(): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

const table = 'connections';

describe('the emulator launcher', () => {
  it('answers requests sent back to back on one connection in order, and keeps it open', async () => {
    const socket = await open();
    socket.write(
      dynamoRequest('CreateTable', {
        TableName: table,
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }) +
        dynamoRequest('PutItem', {
          TableName: table,
          Item: { pk: { S: 'a' }, note: { S: 'x'.repeat(5000) } },
        }) +
        dynamoRequest('GetItem', { TableName: table, Key: { pk: { S: 'a' } } }) +
        dynamoRequest('GetItem', { TableName: 'missing', Key: { pk: { S: 'a' } } }),
    );
    const first = await readAnswers(socket, 4);
    // A pause, then the same connection again.
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.write(dynamoRequest('GetItem', { TableName: table, Key: { pk: { S: 'a' } } }));
    const second = await readAnswers(socket, 1);
    socket.destroy();

    expect(first.answers.map((answer) => answer.status)).toEqual([200, 200, 200, 400]);
    expect(first.answers.map((answer) => answer.headers['connection'])).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(JSON.parse(first.answers[2]!.body)).toEqual({
      Item: { pk: { S: 'a' }, note: { S: 'x'.repeat(5000) } },
    });
    expect(first.answers[3]!.body).toContain('ResourceNotFoundException');
    expect(second.answers[0]?.status).toBe(200);
    expect(JSON.parse(second.answers[0]!.body)).toEqual(JSON.parse(first.answers[2]!.body));
  });

  it('keeps the connection open after answers without a body: to a HEAD, and a 204', async () => {
    const s3 = (method: string, path: string, body = ''): string =>
      [
        `${method} ${path} HTTP/1.1`,
        `Host: 127.0.0.1:${port}`,
        'Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0',
        'x-amz-content-sha256: UNSIGNED-PAYLOAD',
        `Content-Length: ${Buffer.byteLength(body)}`,
        '',
        body,
      ].join('\r\n');
    const socket = await open();
    socket.write(
      s3('PUT', '/kept-bucket') +
        s3('PUT', '/kept-bucket/note', 'hello') +
        s3('HEAD', '/kept-bucket/note') +
        s3('DELETE', '/kept-bucket/note') +
        s3('GET', '/kept-bucket/note'),
    );
    const { answers } = await readAnswers(socket, 5, false, [2]);
    socket.destroy();
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 204, 404]);
    expect(answers[2]?.headers['content-length']).toBe('5');
    expect(answers.map((answer) => answer.headers['connection'])).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(answers[4]?.body).toContain('NoSuchKey');
  });

  it.each([
    ['the client asks it to', { headers: { Connection: 'close' } }],
    ['the request is HTTP/1.0', { version: 'HTTP/1.0' }],
    [
      'the request is HTTP/1.0 and asks to keep it',
      { version: 'HTTP/1.0', headers: { Connection: 'keep-alive' } },
    ],
  ])('closes the connection after the answer when %s', async (_, options) => {
    const socket = await open();
    socket.write(dynamoRequest('ListTables', {}, options));
    const { answers, closed } = await readAnswers(socket, 1, true);
    expect(answers[0]?.status).toBe(200);
    expect(answers[0]?.headers['connection']).toBe('close');
    expect(closed).toBe(true);
  });

  it('reads a chunked body and closes the connection after the answer', async () => {
    const setup = await open();
    setup.write(dynamoRequest('PutItem', { TableName: table, Item: { pk: { S: 'chunked' } } }));
    await readAnswers(setup, 1);
    setup.destroy();
    const text = JSON.stringify({ TableName: table, Key: { pk: { S: 'chunked' } } });
    // The same request with its body in one chunk instead of a Content-Length.
    const [head = ''] = dynamoRequest('GetItem', {}).split('\r\n\r\n');
    const chunkedHead = head.replace(/Content-Length: \d+/, 'Transfer-Encoding: chunked');
    const socket = await open();
    socket.write(`${chunkedHead}\r\n\r\n${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n0\r\n\r\n`);
    const { answers, closed } = await readAnswers(socket, 1, true);
    expect(answers[0]?.status).toBe(200);
    expect(JSON.parse(answers[0]!.body)).toEqual({ Item: { pk: { S: 'chunked' } } });
    expect(closed).toBe(true);
  });

  it('serves an SDK client over one connection', async () => {
    let connections = 0;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const createConnection = agent.createConnection.bind(agent);
    agent.createConnection = (...args: Parameters<typeof createConnection>) => {
      connections += 1;
      return createConnection(...args);
    };
    const client = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: emulator.endpoint,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      requestHandler: { httpAgent: agent },
    });
    await client.send(
      new CreateTableCommand({
        TableName: 'sdk-connections',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    const read: string[] = [];
    for (let index = 0; index < 20; index += 1) {
      await client.send(
        new PutItemCommand({
          TableName: 'sdk-connections',
          Item: { pk: { S: `k${index}` }, n: { N: `${index}` } },
        }),
      );
      const { Item } = await client.send(
        new GetItemCommand({ TableName: 'sdk-connections', Key: { pk: { S: `k${index}` } } }),
      );
      read.push(Item?.['n']?.N ?? 'missing');
    }
    client.destroy();
    agent.destroy();
    expect(read).toEqual(Array.from({ length: 20 }, (_, index) => String(index)));
    expect(connections).toBe(1);
  });
});
