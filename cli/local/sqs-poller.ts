import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { Message } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { AwsClientConfig } from '../../functions/shared/aws/client-config.ts';
import { createLambdaContext } from './lambda-context.ts';
import { inInvocation } from './lambda-runtime-shim.ts';
import { TenantLanes, tenantOfMessage } from './tenant-lanes.ts';

/** A running event source mapping. */
export type SqsPoller = {
  stop(): Promise<void>;
  /**
   * Age of the oldest message the mapping holds (received and not yet deleted or given back), ms;
   * null when it holds none. What SQS's ApproximateAgeOfOldestMessage gives on AWS, for the
   * messages this node has received.
   */
  oldestHeldAgeMs(nowMs?: number): number | null;
};

/** Settings of a local SQS event source mapping. */
export type SqsPollerOptions = {
  aws: AwsClientConfig;
  queueUrl: string;
  queueArn: string;
  functionName: string;
  timeoutSeconds: number;
  handler: (event: SQSEvent, context: unknown) => Promise<SQSBatchResponse | undefined>;
  batchSize: number;
  /** Batches handled at once, like the concurrent batches of a Lambda event source mapping. */
  concurrency: number;
  /** Long-poll wait; short enough that `stop()` returns promptly. */
  waitTimeSeconds?: number;
  /** Told about every failure of the mapping itself (a receive, a delete, a handler that threw). */
  onError: (error: unknown) => void;
  /** Told which messages are being worked on, so a restarted node can release a dead one's. */
  journal?: { add(handles: readonly string[]): void; remove(handles: readonly string[]): void };
  /** Messages received and waiting for a dispatcher at most; `2 × concurrency × batchSize` when absent. */
  maxWaiting?: number;
  /** The SQS client to poll with (tests pass a fake); one built from `aws` when absent. */
  sqs?: Pick<SQSClient, 'send' | 'destroy'>;
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
      ...(attributes.MessageGroupId === undefined ? {} : { MessageGroupId: attributes.MessageGroupId }),
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
 *
 * Received messages wait in one lane per tenant and each batch is taken round-robin across the
 * tenants (HLD §10.2 fair scheduling, what SQS fair queues do on AWS): one tenant's backlog cannot
 * starve another's steps among what the node has received. One receiver keeps up to `maxWaiting`
 * messages received (so none sits received but unworked for long); `concurrency` dispatchers each
 * hand one batch at a time to the handler.
 */
export function startSqsPoller(options: SqsPollerOptions): SqsPoller {
  const sqs = options.sqs ?? new SQSClient(options.aws);
  const controller = new AbortController();
  const attributeNames = [
    'ApproximateReceiveCount',
    'SentTimestamp',
    'SenderId',
    'ApproximateFirstReceiveTimestamp',
    'MessageGroupId',
  ] as const;
  const waiting = new TenantLanes<Message>();
  /** When each held message was first sent, by receipt handle; bounded by what is received at once. */
  const held = new Map<string, number>();
  const release = (messages: readonly Message[]) => {
    for (const message of messages) held.delete(message.ReceiptHandle ?? '');
  };
  const dispatchers = Math.max(1, options.concurrency);
  const maxWaiting = options.maxWaiting ?? 2 * dispatchers * options.batchSize;
  /** Wakes the dispatchers when messages arrive, and the receiver when room is made. */
  const arrived = new Wakeup();
  const roomMade = new Wakeup();
  controller.signal.addEventListener('abort', () => {
    arrived.wakeAll();
    roomMade.wakeAll();
  });

  /** Whether the last receive found the queue empty. */
  let foundEmpty = false;

  async function receive(): Promise<void> {
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: options.queueUrl,
        MaxNumberOfMessages: Math.min(maxReceiveCount, maxWaiting - waiting.size),
        // While messages wait, look for more at once (more tenants to take turns between), but
        // only until the queue is found empty: then long-poll, or the loop would ask an empty
        // queue again and again as fast as it answers until the waiting messages are dispatched.
        // (A long poll returns when a message is sent; one made visible again meanwhile, a retry
        // after its visibility timeout, is seen when the poll ends, within waitTimeSeconds.)
        WaitTimeSeconds: waiting.size === 0 || foundEmpty ? (options.waitTimeSeconds ?? 1) : 0,
        MessageSystemAttributeNames: [...attributeNames],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: controller.signal },
    );
    const messages = received.Messages ?? [];
    foundEmpty = messages.length === 0;
    if (messages.length === 0) return;
    options.journal?.add(messages.map((m) => m.ReceiptHandle ?? ''));
    for (const message of messages) {
      const sentAt = Number(message.Attributes?.SentTimestamp);
      held.set(message.ReceiptHandle ?? '', Number.isFinite(sentAt) ? sentAt : Date.now());
    }
    for (const message of messages) waiting.push(tenantOfMessage(message), message);
    arrived.wakeAll();
  }

  /** Keeps up to `maxWaiting` messages received. */
  async function receiveLoop(): Promise<void> {
    while (!controller.signal.aborted) {
      if (waiting.size >= maxWaiting) {
        await roomMade.next();
        continue;
      }
      try {
        await receive();
      } catch (error) {
        if (controller.signal.aborted) return;
        options.onError(error);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** Hands batches, taken round-robin across tenants, to the handler one at a time. */
  async function dispatchLoop(): Promise<void> {
    while (!controller.signal.aborted) {
      const messages = waiting.take(options.batchSize);
      if (messages.length === 0) {
        await arrived.next();
        continue;
      }
      roomMade.wakeAll();
      try {
        await handleBatch(messages);
      } catch (error) {
        options.onError(error);
      } finally {
        options.journal?.remove(messages.map((m) => m.ReceiptHandle ?? ''));
        release(messages);
      }
    }
  }

  async function handleBatch(messages: Message[]): Promise<void> {
    const event: SQSEvent = { Records: messages.map((m) => toRecord(m, options)) };
    let failed: Set<string>;
    try {
      const context = createLambdaContext(options.functionName, options.timeoutSeconds);
      const result = await inInvocation(context.awsRequestId, () => options.handler(event, context));
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

  /** Makes messages received but never dispatched visible again at once, for the next poller. */
  async function giveBack(messages: Message[]): Promise<void> {
    for (let i = 0; i < messages.length; i += maxReceiveCount) {
      const chunk = messages.slice(i, i + maxReceiveCount);
      try {
        const result = await sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: options.queueUrl,
            Entries: chunk.map((m, n) => ({
              Id: String(n),
              ReceiptHandle: m.ReceiptHandle ?? '',
              VisibilityTimeout: 0,
            })),
          }),
        );
        for (const failure of result.Failed ?? []) {
          options.onError(
            new Error(`step message not given back: ${failure.Code ?? ''} ${failure.Message ?? ''}`),
          );
        }
      } catch (error) {
        // They come back after the queue's visibility timeout instead (or at once through the journal).
        options.onError(error);
        continue;
      }
      options.journal?.remove(chunk.map((m) => m.ReceiptHandle ?? ''));
    }
  }

  const loops = [receiveLoop(), ...Array.from({ length: dispatchers }, () => dispatchLoop())];
  return {
    async stop() {
      controller.abort();
      await Promise.allSettled(loops);
      const left = waiting.take(waiting.size);
      await giveBack(left);
      release(left);
      sqs.destroy();
    },
    oldestHeldAgeMs(nowMs = Date.now()) {
      let oldest: number | undefined;
      for (const sentAt of held.values()) oldest = oldest === undefined ? sentAt : Math.min(oldest, sentAt);
      return oldest === undefined ? null : Math.max(0, nowMs - oldest);
    },
  };
}

/** SQS's most messages per receive. */
const maxReceiveCount = 10;

/** Lets loops wait for something to happen; `wakeAll` releases every waiter. */
class Wakeup {
  #waiters: Array<() => void> = [];

  next(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  wakeAll(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
