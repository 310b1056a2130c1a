import { ChangeMessageVisibilityCommand } from '@aws-sdk/client-sqs';
import type { SQSClient } from '@aws-sdk/client-sqs';

/** A queue's name: the last segment of its URL, or of its ARN. */
function queueNameOf(urlOrArn: string): string {
  return urlOrArn.split(/[/:]/).at(-1) ?? '';
}

/**
 * Shortens a message's invisibility so a step that asked to be retried comes back after a backoff,
 * instead of after the queue's full visibility timeout. The worker consumes more than one queue
 * (steps and deadlines): a receipt handle is valid only on the queue it came from.
 */
export class SqsRedeliveryBackoff {
  private readonly sqs: SQSClient;
  private readonly queueUrl: string;
  private readonly otherQueueUrls: readonly string[];

  /** `queueUrl` is the step queue, the default; `otherQueueUrls` the other queues the worker consumes. */
  constructor(sqs: SQSClient, queueUrl: string, otherQueueUrls: readonly string[] = []) {
    this.sqs = sqs;
    this.queueUrl = queueUrl;
    this.otherQueueUrls = otherQueueUrls;
  }

  /** Exponential backoff by attempt: 2, 4, 8 … seconds, at most 5 minutes. */
  static delaySeconds(attempt: number): number {
    return Math.min(300, 2 ** Math.max(1, attempt));
  }

  /** `queueArn` is the record's `eventSourceARN`; the step queue's when absent or unknown. */
  async redeliverAfter(receiptHandle: string, seconds: number, queueArn?: string): Promise<void> {
    const name = queueArn === undefined ? undefined : queueNameOf(queueArn);
    const queueUrl = this.otherQueueUrls.find((url) => queueNameOf(url) === name) ?? this.queueUrl;
    await this.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: seconds,
      }),
    );
  }
}
