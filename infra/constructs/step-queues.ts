import { Duration, Validations } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  deadlineQueueDefinition,
  stepDeadLetterQueueDefinition,
  stepQueueDefinition,
} from '../resources/definitions.ts';

export type StepQueuesProps = { queueName: string; deadLetterQueueName: string; deadlineQueueName: string };

/**
 * The step queue, the deadline queue and their dead-letter queue, as `stepQueueDefinition` and
 * `deadlineQueueDefinition` describe them; all encrypted at rest (SSE-SQS) and refusing requests
 * that are not over TLS.
 */
export class StepQueues extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  /** Runs' deadlines of at most 15 minutes, each a delayed message (HLD §4.3). */
  readonly deadlineQueue: Queue;

  constructor(scope: Construct, id: string, props: StepQueuesProps) {
    super(scope, id);
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      queueName: props.deadLetterQueueName,
      retentionPeriod: Duration.seconds(stepDeadLetterQueueDefinition.messageRetentionSeconds),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'Serverless-SQSRedrivePolicy',
      reason:
        "This is the step queue's dead-letter queue: nothing consumes it, so nothing could fail to " +
        'process its messages; an operator inspects the failed steps kept here and redrives them to the ' +
        'step queue (or, for a deadline, to the deadline queue).',
    });
    this.queue = new Queue(this, 'Queue', {
      queueName: props.queueName,
      visibilityTimeout: Duration.seconds(stepQueueDefinition.visibilityTimeoutSeconds),
      retentionPeriod: Duration.seconds(stepQueueDefinition.messageRetentionSeconds),
      receiveMessageWaitTime: Duration.seconds(stepQueueDefinition.receiveMessageWaitTimeSeconds),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: stepQueueDefinition.maxReceiveCount },
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.deadlineQueue = new Queue(this, 'DeadlineQueue', {
      queueName: props.deadlineQueueName,
      visibilityTimeout: Duration.seconds(deadlineQueueDefinition.visibilityTimeoutSeconds),
      retentionPeriod: Duration.seconds(deadlineQueueDefinition.messageRetentionSeconds),
      receiveMessageWaitTime: Duration.seconds(deadlineQueueDefinition.receiveMessageWaitTimeSeconds),
      deadLetterQueue: {
        queue: this.deadLetterQueue,
        maxReceiveCount: deadlineQueueDefinition.maxReceiveCount,
      },
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
  }
}
