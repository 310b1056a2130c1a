import { ChangeMessageVisibilityCommand } from '@aws-sdk/client-sqs';
import type { SQSClient } from '@aws-sdk/client-sqs';

/**
 * Shortens a message's invisibility so a step that asked to be retried comes back after a backoff,
 * instead of after the queue's full visibility timeout.
 */
export class SqsRedeliveryBackoff {
  private readonly sqs: SQSClient;
  private readonly queueUrl: string;

  constructor(sqs: SQSClient, queueUrl: string) {
    this.sqs = sqs;
    this.queueUrl = queueUrl;
  }

  /** Exponential backoff by attempt: 2, 4, 8 … seconds, at most 5 minutes. */
  static delaySeconds(attempt: number): number {
    return Math.min(300, 2 ** Math.max(1, attempt));
  }

  async redeliverAfter(receiptHandle: string, seconds: number): Promise<void> {
    await this.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: seconds,
      }),
    );
  }
}
