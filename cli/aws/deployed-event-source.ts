import {
  LambdaClient,
  paginateListEventSourceMappings,
  UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import type { EventSourceMappingConfiguration } from '@aws-sdk/client-lambda';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DeployedClientConfig } from './deployed-aws.ts';

/** A deployed SQS event source mapping: the queue a function is fed from, and how. */
export type DeployedQueueSource = {
  uuid: string;
  queueArn: string;
  /** The queue's URL as the endpoint in use names it. */
  queueUrl: string;
  batchSize: number;
  /** At most this many batches at once, when the mapping sets a maximum concurrency. */
  maximumConcurrency: number | undefined;
  enabled: boolean;
};

const queueArnPattern = /^arn:[a-z-]+:sqs:[a-z0-9-]+:(\d{12}):(.+)$/;

async function queueUrlOf(config: DeployedClientConfig, queueArn: string): Promise<string> {
  const match = queueArnPattern.exec(queueArn);
  if (match === null) throw new Error(`${queueArn} is not an SQS queue ARN`);
  const sqs = new SQSClient(config);
  try {
    const answer = await sqs.send(
      new GetQueueUrlCommand({ QueueName: match[2]!, QueueOwnerAWSAccountId: match[1]! }),
    );
    if (answer.QueueUrl === undefined) throw new Error(`SQS gave no URL for ${queueArn}`);
    return answer.QueueUrl;
  } finally {
    sqs.destroy();
  }
}

/**
 * The SQS event source mappings of a function (the step worker has two: the step queue and the
 * deadline queue; the settlement worker one). Refused unless there is one and each reports batch
 * item failures: the local poller implements only that contract (failed records stay, the rest are
 * deleted).
 */
export async function readQueueSources(
  config: DeployedClientConfig,
  functionName: string,
): Promise<DeployedQueueSource[]> {
  const lambda = new LambdaClient(config);
  const mappings: EventSourceMappingConfiguration[] = [];
  try {
    for await (const page of paginateListEventSourceMappings(
      { client: lambda },
      { FunctionName: functionName },
    ))
      mappings.push(...(page.EventSourceMappings ?? []));
  } finally {
    lambda.destroy();
  }
  const sqsMappings = mappings.filter((mapping) => mapping.EventSourceArn?.includes(':sqs:'));
  if (sqsMappings.length === 0) throw new Error(`${functionName} has no SQS event source mapping`);
  return Promise.all(
    sqsMappings.map(async (mapping) => {
      if (!(mapping.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures'))
        throw new Error(
          `The event source mapping ${mapping.UUID} of ${functionName} does not report batch item failures; ` +
            'the local poller implements only that contract',
        );
      const queueArn = mapping.EventSourceArn!;
      return {
        uuid: mapping.UUID ?? '',
        queueArn,
        queueUrl: await queueUrlOf(config, queueArn),
        batchSize: mapping.BatchSize ?? 10,
        maximumConcurrency: mapping.ScalingConfig?.MaximumConcurrency,
        enabled: mapping.State === 'Enabled' || mapping.State === 'Enabling',
      };
    }),
  );
}

/** Turns an event source mapping on or off. */
export async function setQueueSourceEnabled(
  config: DeployedClientConfig,
  uuid: string,
  enabled: boolean,
): Promise<void> {
  const lambda = new LambdaClient(config);
  try {
    await lambda.send(new UpdateEventSourceMappingCommand({ UUID: uuid, Enabled: enabled }));
  } finally {
    lambda.destroy();
  }
}
