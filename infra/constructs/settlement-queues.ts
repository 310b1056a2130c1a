import { Duration, Validations } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { settlementDeadLetterQueueDefinition, settlementQueueDefinition } from '../resources/definitions.ts';

export type SettlementQueuesProps = { queueName: string; deadLetterQueueName: string };

/**
 * The settlement queue and its own dead-letter queue (HLD §5.3), as `settlementQueueDefinition`
 * describes them; both encrypted at rest (SSE-SQS) and refusing requests that are not over TLS.
 * Its own DLQ, not the step queue's: a dead-lettered settlement is redriven to this queue, and a
 * step to its own.
 */
export class SettlementQueues extends Construct {
  /** Settlements the Model Policy handed over, which the settlement worker writes to the ledger. */
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: SettlementQueuesProps) {
    super(scope, id);
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      queueName: props.deadLetterQueueName,
      retentionPeriod: Duration.seconds(settlementDeadLetterQueueDefinition.messageRetentionSeconds),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'Serverless-SQSRedrivePolicy',
      reason:
        "This is the settlement queue's dead-letter queue: nothing consumes it, so nothing could fail to " +
        'process its messages; an operator inspects the settlements kept here and redrives them to the ' +
        'settlement queue, whose worker applies each settlement once however often it is delivered.',
    });
    this.queue = new Queue(this, 'Queue', {
      queueName: props.queueName,
      visibilityTimeout: Duration.seconds(settlementQueueDefinition.visibilityTimeoutSeconds),
      maxMessageSizeBytes: settlementQueueDefinition.maxMessageSizeBytes,
      retentionPeriod: Duration.seconds(settlementQueueDefinition.messageRetentionSeconds),
      receiveMessageWaitTime: Duration.seconds(settlementQueueDefinition.receiveMessageWaitTimeSeconds),
      deadLetterQueue: {
        queue: this.deadLetterQueue,
        maxReceiveCount: settlementQueueDefinition.maxReceiveCount,
      },
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
  }
}
