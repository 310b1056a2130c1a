import { SFNClient } from '@aws-sdk/client-sfn';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { AwsClientConfig } from '../../shared/aws/client-config.ts';
import type { StepQueueDepth } from '../api/capacity-handlers.ts';
import { SfnRunDriver } from '../adapters/sfn/sfn-run-driver.ts';
import { SqsStepQueue } from '../adapters/sqs/sqs-step-queue.ts';
import { SqsRedeliveryBackoff } from '../adapters/sqs/sqs-visibility.ts';

/**
 * The Orchestrator's adapters on SQS and Step Functions, in a module of their own: the events
 * function loads it on its first run creation or cancel instead of at init, since most of its
 * invocations only read events; the API and the step worker load it at init.
 */

/** What the transport is built from. */
export type RunTransportSettings = {
  aws: AwsClientConfig;
  stepQueueUrl: string;
  /** Where deadlines of at most 15 minutes wait as delayed messages (HLD §4.3). */
  deadlineQueueUrl: string;
  stateMachineArn: string;
  longRunStateMachineArn: string;
  longRunHeartbeatSeconds: number;
  /** Wraps each SDK client, e.g. so its calls are trace subsegments (HLD §9.1). */
  traced: <T>(client: T) => T;
};

/** The step queue's depth from SQS's approximate counts (HLD §10.2 backpressure). */
async function sqsQueueDepth(sqs: SQSClient, queueUrl: string): Promise<StepQueueDepth> {
  const { Attributes: attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  const read = (name: keyof typeof attributes) => Math.max(0, Number(attributes[name] ?? 0) || 0);
  return {
    visible: read('ApproximateNumberOfMessages'),
    in_flight: read('ApproximateNumberOfMessagesNotVisible'),
    delayed: read('ApproximateNumberOfMessagesDelayed'),
  };
}

/** Builds the step queue (with its deadlines), the long-run driver, the redelivery backoff and the queue-depth reader. */
export function createRunTransport(settings: RunTransportSettings) {
  const sqs = settings.traced(new SQSClient(settings.aws));
  const sfn = settings.traced(new SFNClient(settings.aws));
  return {
    queue: new SqsStepQueue(sqs, settings.stepQueueUrl, {
      sfn,
      stateMachineArn: settings.stateMachineArn,
      queueUrl: settings.deadlineQueueUrl,
    }),
    driver: new SfnRunDriver(sfn, {
      stateMachineArn: settings.longRunStateMachineArn,
      heartbeatSeconds: settings.longRunHeartbeatSeconds,
    }),
    backoff: new SqsRedeliveryBackoff(sqs, settings.stepQueueUrl, [settings.deadlineQueueUrl]),
    /** How long a retried step waits before its redelivery, by attempt. */
    redeliveryDelaySeconds: (attempt: number) => SqsRedeliveryBackoff.delaySeconds(attempt),
    queueDepth: () => sqsQueueDepth(sqs, settings.stepQueueUrl),
  };
}

/** The transport {@link createRunTransport} builds. */
export type RunTransport = ReturnType<typeof createRunTransport>;
