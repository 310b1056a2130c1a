import { SFNClient } from '@aws-sdk/client-sfn';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { SqsStepQueue } from '../../functions/orchestrator/adapters/sqs/sqs-step-queue.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';

describe('SqsStepQueue fair scheduling', () => {
  // An SQS fair queue is a standard queue whose messages carry a message group id (HLD §10.2); the
  // emulator accepts the id on a standard queue and returns it, as AWS does.
  it('sends each step with its tenant as the message group id', async () => {
    const { resources } = await provisionTestNode('fairq');
    const sqs = new SQSClient(testAwsConfig());
    const queue = new SqsStepQueue(sqs, resources.stepQueueUrl, {
      sfn: new SFNClient(testAwsConfig()),
      stateMachineArn: resources.stateMachineArn,
      queueUrl: resources.deadlineQueueUrl,
    });
    const auth = {
      tenant_id: 'acme',
      principal: { id: 'user-1', type: 'user' as const },
      scopes: ['runs:write'],
      policy_context: {},
    };
    await queue.enqueueStep(auth, { runId: 'run_01FAIR', step: 1 });
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: resources.stepQueueUrl,
        MaxNumberOfMessages: 1,
        WaitTimeSeconds: 5,
        MessageSystemAttributeNames: ['MessageGroupId'],
      }),
    );
    expect(received.Messages?.[0]?.Attributes).toEqual({ MessageGroupId: 'acme' });
  });
});
