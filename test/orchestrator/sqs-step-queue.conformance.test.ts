import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SqsStepQueue } from '../../functions/orchestrator/adapters/sqs/sqs-step-queue.ts';
import { StepMessageSchema } from '../../functions/orchestrator/runtime/step-message.ts';
import type { StepMessage } from '../../functions/orchestrator/runtime/step-message.ts';
import { queuePortConformance } from '../conformance/queue-port.case.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';

queuePortConformance('SQS + Step Functions on the emulator', async () => {
  const { resources } = await provisionTestNode('queue');
  const sqs = new SQSClient(testAwsConfig());
  const sfn = new SFNClient(testAwsConfig());
  const port = new SqsStepQueue(sqs, resources.stepQueueUrl, {
    sfn,
    stateMachineArn: resources.stateMachineArn,
  });
  return {
    port,
    // What a worker receives from the real queue; long-polls until the expected count arrives.
    async received(expected) {
      const messages: StepMessage[] = [];
      for (let polls = 0; messages.length < expected && polls < 10; polls += 1) {
        const batch = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: resources.stepQueueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
          }),
        );
        const received = batch.Messages ?? [];
        messages.push(...received.map((m) => StepMessageSchema.parse(JSON.parse(m.Body ?? ''))));
        if (received.length > 0)
          await sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: resources.stepQueueUrl,
              Entries: received.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })),
            }),
          );
      }
      return messages;
    },
    // One execution of the run-deadline state machine per scheduled deadline, carrying the task.
    async deadlines() {
      const executions = await sfn.send(
        new ListExecutionsCommand({ stateMachineArn: resources.stateMachineArn }),
      );
      return Promise.all(
        (executions.executions ?? []).map(async (execution) => {
          const described = await sfn.send(
            new DescribeExecutionCommand({ executionArn: execution.executionArn }),
          );
          const input = JSON.parse(described.input ?? '{}') as { message: string };
          return StepMessageSchema.parse(JSON.parse(input.message));
        }),
      );
    },
  };
});
