import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Message } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { AwsClientConfig } from '../../functions/shared/aws/client-config.ts';
import { createLambdaContext } from './lambda-context.ts';

/** A running event source mapping. */
export type SqsPoller = { stop(): Promise<void> };

/** Settings of a local SQS event source mapping. */
export type SqsPollerOptions = {
  aws: AwsClientConfig;
  queueUrl: string;
  queueArn: string;
  functionName: string;
  timeoutSeconds: number;
  handler: (event: SQSEvent, context: unknown) => Promise<SQSBatchResponse | undefined>;
  batchSize: number;
  /** Parallel pollers, like the concurrent batches of a Lambda event source mapping. */
  concurrency: number;
  /** Long-poll wait; short enough that `stop()` returns promptly. */
  waitTimeSeconds?: number;
  /** Told about every failure of the mapping itself (a receive, a delete, a handler that threw). */
  onError: (error: unknown) => void;
  /** Told which messages are being worked on, so a restarted node can release a dead one's. */
  journal?: { add(handles: readonly string[]): void; remove(handles: readonly string[]): void };
};

function toRecord(message: Message, options: SqsPollerOptions): SQSRecord {
  const attributes = message.Attributes ?? {};
  const messageAttributes: SQSRecord['messageAttributes'] = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      dataType: value.DataType ?? 'String',
      ...(value.StringValue === undefined ? {} : { stringValue: value.StringValue }),
      ...(value.BinaryValue === undefined
        ? {}
        : { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }),
      stringListValues: [],
      binaryListValues: [],
    };
  }
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: options.queueArn,
    awsRegion: options.aws.region,
  };
}

/**
 * Polls an SQS queue and invokes a handler with real SQS batch events, as a Lambda event source
 * mapping with `ReportBatchItemFailures` does: records the handler reports in `batchItemFailures`
 * stay on the queue for redelivery, the rest are deleted; if the handler throws, or reports an id
 * that is not in the batch, the whole batch is redelivered.
 */
export function startSqsPoller(options: SqsPollerOptions): SqsPoller {
  const sqs = new SQSClient(options.aws);
  const controller = new AbortController();
  const attributeNames = [
    'ApproximateReceiveCount',
    'SentTimestamp',
    'SenderId',
    'ApproximateFirstReceiveTimestamp',
  ] as const;

  async function pollOnce(): Promise<void> {
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: options.queueUrl,
        MaxNumberOfMessages: options.batchSize,
        WaitTimeSeconds: options.waitTimeSeconds ?? 1,
        MessageSystemAttributeNames: [...attributeNames],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: controller.signal },
    );
    const messages = received.Messages ?? [];
    if (messages.length === 0) return;
    const handles = messages.map((m) => m.ReceiptHandle ?? '');
    options.journal?.add(handles);
    try {
      await handleBatch(messages);
    } finally {
      options.journal?.remove(handles);
    }
  }

  async function handleBatch(messages: Message[]): Promise<void> {
    const event: SQSEvent = { Records: messages.map((m) => toRecord(m, options)) };
    let failed: Set<string>;
    try {
      const result = await options.handler(
        event,
        createLambdaContext(options.functionName, options.timeoutSeconds),
      );
      const ids = new Set(event.Records.map((r) => r.messageId));
      const reported = (result?.batchItemFailures ?? []).map((f) => f.itemIdentifier);
      failed = reported.every((id) => ids.has(id)) ? new Set(reported) : ids;
    } catch (error) {
      options.onError(error);
      return;
    }
    const done = messages.filter((m) => !failed.has(m.MessageId ?? ''));
    if (done.length === 0) return;
    const deleted = await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: options.queueUrl,
        Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })),
      }),
    );
    // A message not deleted comes back after its visibility timeout, and its step runs again.
    for (const failure of deleted.Failed ?? []) {
      options.onError(new Error(`step message not deleted: ${failure.Code ?? ''} ${failure.Message ?? ''}`));
    }
  }

  async function loop(): Promise<void> {
    while (!controller.signal.aborted) {
      try {
        await pollOnce();
      } catch (error) {
        if (controller.signal.aborted) return;
        options.onError(error);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  const loops = Array.from({ length: Math.max(1, options.concurrency) }, () => loop());
  return {
    async stop() {
      controller.abort();
      await Promise.allSettled(loops);
      sqs.destroy();
    },
  };
}
