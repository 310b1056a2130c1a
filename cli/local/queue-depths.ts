import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { SQSClient } from '@aws-sdk/client-sqs';

/** The states SQS counts a queue's messages in: waiting, in flight, delayed. */
export type QueueCount =
  | 'ApproximateNumberOfMessages'
  | 'ApproximateNumberOfMessagesNotVisible'
  | 'ApproximateNumberOfMessagesDelayed';

/** What reads a queue's attributes: an SQS client (tests pass a fake). */
export type QueueReader = Pick<SQSClient, 'send'>;

/** The sum of `counts` of one queue, from its approximate attributes. */
export async function queueCount(
  sqs: QueueReader,
  queueUrl: string,
  counts: readonly QueueCount[],
): Promise<number> {
  const answer = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: [...counts] }),
  );
  return counts.map((name) => Number(answer.Attributes?.[name] ?? 0)).reduce((sum, count) => sum + count, 0);
}

/**
 * The deepest of `queueUrls` by waiting messages, as the `dlq_not_empty` alarm reads the node's
 * dead-letter queues (HLD §9.3): each queue is read on its own, so one that does not answer hides
 * nothing another shows; its error goes to `onError`. `null` when none answered.
 */
export async function deepestQueue(
  sqs: QueueReader,
  queueUrls: readonly string[],
  onError: (queueUrl: string, error: unknown) => void,
): Promise<number | null> {
  const reads = await Promise.allSettled(
    queueUrls.map((url) => queueCount(sqs, url, ['ApproximateNumberOfMessages'])),
  );
  const depths = reads.flatMap((read, index) => {
    if (read.status === 'fulfilled') return [read.value];
    onError(queueUrls[index] ?? '', read.reason);
    return [];
  });
  return depths.length === 0 ? null : Math.max(...depths);
}

/**
 * How long a queue has held messages (waiting, in flight or delayed) without emptying, in seconds:
 * the local stand-in for CloudWatch's `ApproximateAgeOfOldestMessage`. SQS's API gives a message's
 * age only to a receive, which would count toward the message's redrive. The hold starts when a read
 * first finds the queue holding anything, so it trails the oldest message's age by up to one read
 * period (and starts over with a new process), and runs ahead of it when new messages keep arriving
 * before old ones leave: a queue that holds anything only while a store refuses writes (the
 * settlement queue) seldom does that. Unlike the CloudWatch metric, it does not drop a message that
 * keeps failing. A read that fails changes nothing: no read saw the queue empty.
 */
export class QueueHold {
  readonly #sqs: QueueReader;
  readonly #queueUrl: string;
  readonly #nowMs: () => number;
  #since: number | undefined;

  constructor(sqs: QueueReader, queueUrl: string, nowMs: () => number) {
    this.#sqs = sqs;
    this.#queueUrl = queueUrl;
    this.#nowMs = nowMs;
  }

  /** Seconds the queue has held messages since a read last found it empty; 0 while empty. */
  async secondsHeld(): Promise<number> {
    const held = await queueCount(this.#sqs, this.#queueUrl, [
      'ApproximateNumberOfMessages',
      'ApproximateNumberOfMessagesNotVisible',
      'ApproximateNumberOfMessagesDelayed',
    ]);
    const now = this.#nowMs();
    if (held === 0) {
      this.#since = undefined;
      return 0;
    }
    this.#since ??= now;
    return (now - this.#since) / 1000;
  }
}
