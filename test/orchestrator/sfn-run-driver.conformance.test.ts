import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, vi } from 'vitest';
import { SfnRunDriver } from '../../functions/orchestrator/adapters/sfn/sfn-run-driver.ts';
import { StepMessageSchema } from '../../functions/orchestrator/runtime/step-message.ts';
import type { RunTaskMessage } from '../../functions/orchestrator/runtime/step-message.ts';
import { runDriverPortConformance } from '../conformance/run-driver-port.case.ts';
import type { ExecutionStatus } from '../conformance/run-driver-port.case.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';

const node = provisionTestNode('driver');
const sfn = new SFNClient(testAwsConfig());
const sqs = new SQSClient(testAwsConfig());
afterAll(() => {
  sfn.destroy();
  sqs.destroy();
});

/** Tasks the state machine sent to the step queue, received but not yet asked for, by run. */
const received: RunTaskMessage[] = [];

/**
 * Over the wire: the long-run state machine on the emulator's Step Functions (executions enabled by
 * the test emulator), its step tasks read from the node's step queue.
 */
// moto runs executions on its own threads, in real time: on a loaded machine a task can take well
// over a minute to reach the queue, so this file waits up to 150 polls within a longer test timeout.
vi.setConfig({ testTimeout: 240_000 });

runDriverPortConformance('Step Functions', async () => {
  const { resources } = await node;
  // A heartbeat far apart from the test's pace: no task times out while a test holds it.
  const driver = new SfnRunDriver(sfn, {
    stateMachineArn: resources.longRunStateMachineArn,
    heartbeatSeconds: 60,
  });
  return {
    driver,
    // moto 5.2.1's SendTaskFailure drops the cause.
    emulatorGaps: { failureCauseDropped: true },
    async nextTask(runId) {
      for (let polls = 0; polls < 150; polls += 1) {
        const index = received.findIndex((task) => task.run_id === runId);
        if (index >= 0) return received.splice(index, 1)[0]!;
        const answer = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: resources.stepQueueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
          }),
        );
        for (const message of answer.Messages ?? []) {
          received.push(StepMessageSchema.parse(JSON.parse(message.Body ?? '')) as RunTaskMessage);
          await sqs.send(
            new DeleteMessageCommand({
              QueueUrl: resources.stepQueueUrl,
              ReceiptHandle: message.ReceiptHandle,
            }),
          );
        }
      }
      throw new Error(`the state machine sent no task for ${runId}`);
    },
    async status(executionArn) {
      const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      return execution.status as ExecutionStatus;
    },
  };
});
