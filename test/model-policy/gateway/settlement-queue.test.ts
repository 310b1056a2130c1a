import { randomBytes } from 'node:crypto';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { Message } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoLedger } from '../../../functions/model-policy/adapters/dynamodb/dynamo-ledger.ts';
import { composeSettlementWorker } from '../../../functions/model-policy/composition/settlement-worker-root.ts';
import type { LedgerPort } from '../../../functions/model-policy/ports/ledger-port.ts';
import { DependencyUnavailableError } from '../../../functions/shared/errors/agentos-error.ts';
import { createLambdaContext } from '../../../cli/local/lambda-context.ts';
import { startFakeOpenAiServer } from '../../fakes/fake-openai-server.ts';
import type { FakeOpenAiServer } from '../../fakes/fake-openai-server.ts';
import { clientPastTokenWindow, testAwsConfig } from '../../support/aws.ts';
import { pricedCatalog, startGateway } from '../support/gateway-harness.ts';
import type { Gateway } from '../support/gateway-harness.ts';

/**
 * How the node's ledger settles: `up`; `down`, failing as if the table were unreachable; or
 * `lost-answers`, where each write lands and its answer is lost on the way back (a timeout).
 */
type StoreState = { mode: 'up' | 'down' | 'lost-answers'; refused: number };

function settlingFails(ledger: LedgerPort, state: StoreState): LedgerPort {
  return {
    claim: (...args) => ledger.claim(...args),
    claimAndReserve: (...args) => ledger.claimAndReserve(...args),
    readBudgets: (...args) => ledger.readBudgets(...args),
    reserve: (...args) => ledger.reserve(...args),
    settle: async (...args) => {
      if (state.mode === 'up') return ledger.settle(...args);
      state.refused += 1;
      if (state.mode === 'lost-answers') await ledger.settle(...args);
      throw new DependencyUnavailableError('The state store is unavailable');
    },
    recordRefusal: (...args) => ledger.recordRefusal(...args),
    requestAbort: (...args) => ledger.requestAbort(...args),
    abortRequested: (...args) => ledger.abortRequested(...args),
  };
}

/**
 * The node's ledger on a client that sends no client request token, as a write does once the
 * token's ten minutes have passed: only the ledger's own conditions keep it from applying twice.
 */
function ledgerPastTokenWindow(tableName: string): LedgerPort {
  return new DynamoLedger(clientPastTokenWindow(), tableName);
}

/** A received message as the SQS event source hands it to a function. */
function sqsRecord(message: Message, queueArn: string): SQSRecord {
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: message.Attributes?.ApproximateReceiveCount ?? '1',
      SentTimestamp: message.Attributes?.SentTimestamp ?? '0',
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: testAwsConfig().region,
  };
}

const catalog = (upstreamUrl: string) =>
  pricedCatalog(
    {
      backends: { fake: { kind: 'openai', base_url: upstreamUrl } },
      models: { 'openai/gpt-4o-mini': { backend: 'fake', model: 'gpt-4o-mini' } },
    },
    { input_usd_per_mtok: 0.15, output_usd_per_mtok: 0.6 },
  );

const sqs = new SQSClient(testAwsConfig());
const store: StoreState = { mode: 'up', refused: 0 };
let queueUrl: string;
let upstream: FakeOpenAiServer;
let gateway: Gateway;

beforeAll(async () => {
  upstream = await startFakeOpenAiServer();
  const created = await sqs.send(
    new CreateQueueCommand({ QueueName: `settlements-${randomBytes(5).toString('hex')}` }),
  );
  queueUrl = created.QueueUrl ?? '';
  gateway = await startGateway({
    catalog: catalog(upstream.url),
    env: { AGENTOS_SETTLEMENT_QUEUE_URL: queueUrl },
    wrapLedger: (ledger) => settlingFails(ledger, store),
  });
});

afterAll(async () => {
  await gateway.close();
  await upstream.close();
  await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
});

/**
 * Hands what the queue holds to the settlement worker three times, as SQS may deliver it (at least
 * once): twice at once, and once after the write's client request token has lapsed. Returns the
 * messages and the worker's three answers.
 */
async function deliverThrice(): Promise<{ messages: Message[]; failures: unknown[] }> {
  const messages = await receive(10);
  const env = { ...process.env, AGENTOS_TABLE_NAME: gateway.tableName };
  const worker = composeSettlementWorker({ env });
  const late = composeSettlementWorker({ env, ledger: ledgerPastTokenWindow(gateway.tableName) });
  const event: SQSEvent = { Records: messages.map((message) => sqsRecord(message, 'arn:test')) };
  const context = createLambdaContext('settlementWorker', 60);
  const answers = [
    await worker.handler(event, context),
    await worker.handler(event, context),
    await late.handler(event, context),
  ] as SQSBatchResponse[];
  await sqs.send(
    new DeleteMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: messages.map((message, index) => ({
        Id: String(index),
        ReceiptHandle: message.ReceiptHandle ?? '',
      })),
    }),
  );
  return { messages, failures: answers.map((answer) => answer.batchItemFailures) };
}

/** Receives what the queue holds, waiting up to `seconds` for the first message. */
async function receive(seconds: number): Promise<Message[]> {
  const received = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: seconds,
      MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
    }),
  );
  return received.Messages ?? [];
}

describe('a settlement the table keeps refusing', () => {
  it('returns the answer, queues the settlement, and bills the call once when the worker writes it, however often it is delivered', async () => {
    const token = await gateway.token('settle-queued');
    const request = { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] };
    const requestId = { 'x-request-id': 'queued-1' };
    store.mode = 'down';
    store.refused = 0;
    const answered = await gateway.call('POST', '/v1/chat/completions', token, request, requestId);
    expect(answered.status).toBe(200);
    expect(answered.body).toHaveProperty('choices');

    // The usage read waits for the process's pending settlements: their bounded retries all
    // failed, so the call is on the queue and not in the ledger.
    const before = await gateway.call('GET', '/v1/usage?window=day', token);
    expect(before.body['totals']).toMatchObject({ calls: 0 });
    expect(store.refused).toBe(3);

    // The table answers again, and the worker writes the settlement however often it gets it.
    store.mode = 'up';
    const delivered = await deliverThrice();
    expect(delivered.messages).toHaveLength(1);
    expect(delivered.failures).toEqual([[], [], []]);

    const usage = await gateway.call('GET', '/v1/usage?window=day', token);
    expect(usage.body['totals']).toMatchObject({ calls: 1, prompt_tokens: expect.any(Number) });
    expect((usage.body['totals'] as { total_tokens: number }).total_tokens).toBeGreaterThan(0);
    // The request id is completed with its answer: a retry replays it without calling the model.
    const calls = upstream.requests.length;
    const replay = await gateway.call('POST', '/v1/chat/completions', token, request, requestId);
    expect(replay.status).toBe(200);
    expect(replay.body['choices']).toEqual(answered.body['choices']);
    expect(upstream.requests).toHaveLength(calls);
  });

  it('returns the call billed once when its writes landed but their answers were lost, and it was queued as well', async () => {
    const token = await gateway.token('settle-landed');
    store.mode = 'lost-answers';
    store.refused = 0;
    const answered = await gateway.call(
      'POST',
      '/v1/chat/completions',
      token,
      { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] },
      { 'x-request-id': 'landed-1' },
    );
    expect(answered.status).toBe(200);
    const delivered = await deliverThrice();
    expect(store.refused).toBe(3);
    store.mode = 'up';
    expect(delivered.messages).toHaveLength(1);
    expect(delivered.failures).toEqual([[], [], []]);
    const usage = await gateway.call('GET', '/v1/usage?window=day', token);
    expect(usage.body['totals']).toMatchObject({ calls: 1 });
  });

  it('returns a broken stream billed for what it produced once the worker writes its queued settlement', async () => {
    const token = await gateway.token('settle-partial');
    upstream.enqueue({ kind: 'cut', afterChunks: 3 });
    store.mode = 'down';
    store.refused = 0;
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'openai/gpt-4o-mini',
        stream: true,
        messages: [{ role: 'user', content: 'hello there' }],
      }),
    });
    const streamed = await response.text();
    expect(streamed).toContain('"error"');
    store.mode = 'up';
    const delivered = await deliverThrice();
    // Its one write failed on the call's path and went to the queue at once.
    expect(store.refused).toBe(1);
    expect(delivered.messages).toHaveLength(1);
    expect(delivered.failures).toEqual([[], [], []]);
    const usage = await gateway.call('GET', '/v1/usage?window=day', token);
    expect(usage.body['totals']).toMatchObject({ calls: 1 });
    expect((usage.body['totals'] as { completion_tokens: number }).completion_tokens).toBeGreaterThan(0);
  });

  it('returns a batch failure for a message that is not a settlement, leaving it to the dead-letter queue', async () => {
    const worker = composeSettlementWorker({
      env: { ...process.env, AGENTOS_TABLE_NAME: gateway.tableName },
    });
    const garbage = sqsRecord({ MessageId: 'm-1', Body: 'not a settlement' }, 'arn:test');
    const answer = (await worker.handler(
      { Records: [garbage] },
      createLambdaContext('settlementWorker', 60),
    )) as SQSBatchResponse;
    expect(answer.batchItemFailures).toEqual([{ itemIdentifier: 'm-1' }]);
  });
});
