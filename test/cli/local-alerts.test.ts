import { appendFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stageAlarms } from '../../functions/shared/observability/alarm-catalog.ts';
import { DynamoAlertDedup } from '../../functions/shared/observability/adapters/dynamo-alert-dedup.ts';
import { AlertNotifier } from '../../functions/shared/observability/alert-notifier.ts';
import { smtpTransport } from '../../functions/shared/observability/alert-smtp.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { systemClock } from '../../functions/shared/timing/clock.ts';
import { AlarmEvaluator } from '../../cli/local/alarm-evaluator.ts';
import { accessLogLine, startHttpFront } from '../../cli/local/lambda-http-front.ts';
import type { HttpFront } from '../../cli/local/lambda-http-front.ts';
import { localSignalSource } from '../../cli/local/local-signals.ts';
import type { LocalSignalSettings } from '../../cli/local/local-signals.ts';
import { readStoredAlerts, startSmtpSink } from '../../cli/local/smtp-sink.ts';
import type { SmtpSink } from '../../cli/local/smtp-sink.ts';
import { startFakeOpenAiServer } from '../fakes/fake-openai-server.ts';
import type { FakeOpenAiServer } from '../fakes/fake-openai-server.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';

/**
 * A node front whose model backend fails: every chat request goes to a fake OpenAI-compatible
 * server answering 500, and the front answers 502, logging each request as the local node does.
 */
let dir: string;
let sink: SmtpSink;
let provider: FakeOpenAiServer;
let front: HttpFront;
let nodeLog: string;
let resources: Awaited<ReturnType<typeof provisionTestNode>>['resources'];

/**
 * The node's signals as the alerts process reads them, through the failing front: an unreadable
 * signal fails the test unless `onReadError` is given.
 */
function signalsOf(
  settings: Omit<LocalSignalSettings, 'nodeLog' | 'healthUrls' | 'aws' | 'onReadError'> &
    Partial<Pick<LocalSignalSettings, 'onReadError'>>,
) {
  return localSignalSource({
    nodeLog,
    healthUrls: [`${front.url}/v1/health`],
    aws: testAwsConfig(),
    onReadError: (signal, error) => {
      throw new Error(`signal ${signal} could not be read`, { cause: error });
    },
    ...settings,
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agentos-alerts-'));
  nodeLog = join(dir, 'node.log');
  appendFileSync(nodeLog, '');
  resources = (await provisionTestNode('alerts')).resources;
  sink = await startSmtpSink({ dir: join(dir, 'mail'), port: 0 });
  provider = await startFakeOpenAiServer({ defaultBehaviour: { kind: 'error', status: 500 } });
  front = await startHttpFront({
    observe: accessLogLine('orchestrator', (line) => appendFileSync(nodeLog, `${line}\n`)),
    routes: [
      {
        resource: '/v1/health',
        method: 'GET',
        functionName: 'health',
        timeoutSeconds: 5,
        handler: () => Promise.resolve({ statusCode: 200, body: '{"status":"ok"}' }),
      },
      {
        resource: '/v1/chat',
        method: 'POST',
        functionName: 'chat',
        timeoutSeconds: 5,
        handler: async () => {
          const upstream = await fetch(`${provider.url}/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
          });
          return upstream.ok
            ? { statusCode: 200, body: await upstream.text() }
            : { statusCode: 502, body: '{"error":{"code":"dependency_unavailable"}}' };
        },
      },
    ],
  });
});

afterAll(async () => {
  await front.close();
  await provider.close();
  await sink.close();
  await rm(dir, { recursive: true, force: true });
});

describe('local alarm evaluation', () => {
  it('returns exactly one alert e-mail in the SMTP sink while a failing model backend keeps the error rate high', async () => {
    const aws = testAwsConfig();
    const source = signalsOf({
      deadLetterQueueUrls: [resources.stepDeadLetterQueueUrl, resources.settlementDeadLetterQueueUrl],
    });
    const notifier = new AlertNotifier({
      dedup: new DynamoAlertDedup(createDocumentClient(aws), resources.tableName),
      transport: smtpTransport({
        host: '127.0.0.1',
        port: sink.port,
        secure: false,
        from: 'alerts@agentos.local',
        to: ['operator@agentos.local'],
        timeout_ms: 5_000,
      }),
      clock: systemClock,
      windowMs: 3_600_000,
    });
    const evaluator = new AlarmEvaluator({
      alarms: stageAlarms({ high_error_rate: { evaluation_periods: 1 } }),
      source,
      notifier,
      clock: systemClock,
      nodeId: 'local',
      stage: 'test',
    });
    try {
      // The first read starts the log tail at the log's end.
      await evaluator.evaluate();
      const fired = [];
      for (let period = 0; period < 4; period += 1) {
        for (let i = 0; i < 3; i += 1) {
          const answer = await fetch(`${front.url}/v1/chat`, { method: 'POST', body: '{}' });
          expect(answer.status).toBe(502);
        }
        const decision = (await evaluator.evaluate()).find((entry) => entry.alarmId === 'high_error_rate');
        fired.push(decision?.fired);
      }
      expect(fired).toEqual([true, true, true, true]);
      const mails = await readStoredAlerts(join(dir, 'mail'));
      expect(mails.map((mail) => mail.alarmId)).toEqual(['high_error_rate']);
      expect(mails[0]?.subject).toBe('[AgentOS test] high_error_rate on node local');
      expect(provider.requests.length).toBe(12);
    } finally {
      source.close();
    }
  });

  it('returns dlq_not_empty from the deepest dead-letter queue, the settlement queue’s included', async () => {
    const aws = testAwsConfig();
    const { resources: own } = await provisionTestNode('alerts-dlq');
    const source = signalsOf({
      deadLetterQueueUrls: [own.stepDeadLetterQueueUrl, own.settlementDeadLetterQueueUrl],
    });
    const dlqDepth = async () =>
      (await source.read()).find((sample) => sample.alarmId === 'dlq_not_empty')?.value;
    const sqs = new SQSClient(aws);
    try {
      expect(await dlqDepth()).toBe(0);
      for (const body of ['a', 'b'])
        await sqs.send(
          new SendMessageCommand({ QueueUrl: own.settlementDeadLetterQueueUrl, MessageBody: body }),
        );
      await sqs.send(new SendMessageCommand({ QueueUrl: own.stepDeadLetterQueueUrl, MessageBody: 'c' }));
      expect(await dlqDepth()).toBe(2);
      // A dead-letter queue that does not answer (deleted here) hides nothing the other one shows,
      // and is told to the alerts process.
      const unreadable: string[] = [];
      const partly = signalsOf({
        deadLetterQueueUrls: [`${own.settlementDeadLetterQueueUrl}-gone`, own.stepDeadLetterQueueUrl],
        onReadError: (signal) => unreadable.push(signal),
      });
      try {
        expect((await partly.read()).find((sample) => sample.alarmId === 'dlq_not_empty')?.value).toBe(1);
        expect(unreadable).toEqual([`dead-letter queue ${own.settlementDeadLetterQueueUrl}-gone`]);
      } finally {
        partly.close();
      }
    } finally {
      sqs.destroy();
      source.close();
    }
  });

  it('returns queue_backlog as how long the settlement queue has held settlements, past the alarm threshold while one waits', async () => {
    const aws = testAwsConfig();
    const { resources: own } = await provisionTestNode('alerts-backlog');
    let now = Date.parse('2026-01-01T00:00:00Z');
    const source = signalsOf({
      deadLetterQueueUrls: [own.settlementDeadLetterQueueUrl],
      settlementQueueUrl: own.settlementQueueUrl,
      nowMs: () => now,
    });
    const backlog = async () =>
      (await source.read()).find((sample) => sample.alarmId === 'queue_backlog')?.value;
    const [rule] = stageAlarms({}).filter((alarm) => alarm.id === 'queue_backlog');
    const sqs = new SQSClient(aws);
    try {
      expect(await backlog()).toBe(0);
      await sqs.send(new SendMessageCommand({ QueueUrl: own.settlementQueueUrl, MessageBody: 'settlement' }));
      expect(await backlog()).toBe(0);
      // Taken by a worker whose write fails: in flight until its visibility ends, still held.
      const taken = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: own.settlementQueueUrl, VisibilityTimeout: 600 }),
      );
      now += (rule!.threshold + 1) * 1000;
      expect(await backlog()).toBe(rule!.threshold + 1);
      await sqs.send(
        new DeleteMessageCommand({
          QueueUrl: own.settlementQueueUrl,
          ReceiptHandle: taken.Messages?.[0]?.ReceiptHandle,
        }),
      );
      now += 60_000;
      expect(await backlog()).toBe(0);
      await sqs.send(new SendMessageCommand({ QueueUrl: own.settlementQueueUrl, MessageBody: 'next' }));
      now += 60_000;
      // A new message starts a new hold: the time the queue was empty does not count.
      expect(await backlog()).toBe(0);
    } finally {
      sqs.destroy();
      source.close();
    }
  });

  it('returns queue_backlog as the older of the oldest step and the settlement queue’s hold', async () => {
    const { resources: own } = await provisionTestNode('alerts-older');
    let now = Date.parse('2026-01-01T00:00:00Z');
    let stepAge: number | null = 120;
    const source = signalsOf({
      deadLetterQueueUrls: [own.settlementDeadLetterQueueUrl],
      oldestStepAgeSeconds: () => Promise.resolve(stepAge),
      settlementQueueUrl: own.settlementQueueUrl,
      nowMs: () => now,
    });
    const backlog = async () =>
      (await source.read()).find((sample) => sample.alarmId === 'queue_backlog')?.value;
    const sqs = new SQSClient(testAwsConfig());
    try {
      expect(await backlog()).toBe(120);
      await sqs.send(new SendMessageCommand({ QueueUrl: own.settlementQueueUrl, MessageBody: 'settlement' }));
      expect(await backlog()).toBe(120);
      now += 400_000;
      expect(await backlog()).toBe(400);
      // No step waiting lately: the settlement queue's hold alone.
      stepAge = null;
      now += 100_000;
      expect(await backlog()).toBe(500);
    } finally {
      sqs.destroy();
      source.close();
    }
  });

  it('returns queue_backlog as no data while neither queue signal can be read, and says which', async () => {
    const { resources: own } = await provisionTestNode('alerts-unread');
    const unreadable: string[] = [];
    const source = signalsOf({
      deadLetterQueueUrls: [own.settlementDeadLetterQueueUrl],
      oldestStepAgeSeconds: () => Promise.reject(new Error('the capacity report answered 503')),
      settlementQueueUrl: `${own.settlementQueueUrl}-gone`,
      onReadError: (signal) => unreadable.push(signal),
    });
    try {
      const samples = await source.read();
      expect(samples.find((sample) => sample.alarmId === 'queue_backlog')).toEqual({
        alarmId: 'queue_backlog',
        value: undefined,
      });
      expect(unreadable).toEqual(['oldest step age', 'settlement queue']);
    } finally {
      source.close();
    }
  });
});
