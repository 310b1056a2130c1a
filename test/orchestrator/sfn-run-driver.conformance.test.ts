import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it, vi } from 'vitest';
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

/** The next task the state machine sent for `runId`, waiting up to 150 long polls of the step queue. */
async function nextTask(runId: string): Promise<RunTaskMessage> {
  const { resources } = await node;
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
}

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
    nextTask,
    async status(executionArn) {
      const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      return execution.status as ExecutionStatus;
    },
  };
});

/** The task token of a step task; throws for any other task. */
function tokenOf(task: RunTaskMessage): string {
  if (task.kind !== 'run.step' || task.task_token === undefined)
    throw new Error(`expected a step task with a token, got ${task.kind}`);
  return task.task_token;
}

// What only the Step Functions engine does on its own clock: an attempt that runs out of time is
// over, and its token with it. The driver keeps the heartbeat inside the step timeout, so the second
// case starts its execution by hand.
describe('Step Functions: an attempt that ran out of time', () => {
  const auth = {
    tenant_id: 'acme',
    principal: { id: 'user-1', type: 'user' as const },
    scopes: ['runs:write'],
    policy_context: {},
  };

  it.each([
    ['its heartbeat lapsed', { heartbeat_seconds: 1, step_timeout_seconds: 60 }],
    ['its step timeout passed', { heartbeat_seconds: 60, step_timeout_seconds: 2 }],
  ])(
    'refuses the old token’s heartbeat and answers once %s, and hands the step out again with a new token',
    async (_, timings) => {
      const { resources } = await node;
      const driver = new SfnRunDriver(sfn, {
        stateMachineArn: resources.longRunStateMachineArn,
        heartbeatSeconds: 60,
      });
      const runId = `run_${crypto.randomUUID().replaceAll('-', '').slice(0, 20)}`;
      await sfn.send(
        new StartExecutionCommand({
          stateMachineArn: resources.longRunStateMachineArn,
          name: runId,
          input: JSON.stringify({ run_id: runId, auth, step: 1, ...timings }),
        }),
      );
      const first = tokenOf(await nextTask(runId));
      const retry = await nextTask(runId);
      expect(retry).toMatchObject({ kind: 'run.step', step: 1, attempt: 1 });
      expect(tokenOf(retry)).not.toBe(first);
      expect(await driver.heartbeat(first)).toBe('task_over');
      expect(await driver.succeed(first, { kind: 'end' })).toBe('task_over');
      expect(await driver.heartbeat(tokenOf(retry))).toBe('answered');
    },
  );
});
