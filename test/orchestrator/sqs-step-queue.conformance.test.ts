import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SqsStepQueue } from '../../functions/orchestrator/adapters/sqs/sqs-step-queue.ts';
import { StepMessageSchema } from '../../functions/orchestrator/runtime/step-message.ts';
import type { RunTaskMessage } from '../../functions/orchestrator/runtime/step-message.ts';
import { deliveryWindowSeconds, queuePortConformance } from '../conformance/queue-port.case.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';

// Each case gets its own node (queues and run-deadline state machine). A deadline of at most 900 s is
// a delayed message on the deadline queue, which the emulator holds back for its delay; a longer one
// runs through the real state machine: the emulator executes it (global setup enables that), waits,
// then sends to the step queue. A worker consumes both queues.
queuePortConformance('SQS + Step Functions on the emulator', async () => {
  const { resources } = await provisionTestNode('queue');
  const sqs = new SQSClient(testAwsConfig());
  const sfn = new SFNClient(testAwsConfig());
  const { stepQueueUrl: queueUrl, deadlineQueueUrl, stateMachineArn } = resources;
  const port = new SqsStepQueue(sqs, queueUrl, { sfn, stateMachineArn, queueUrl: deadlineQueueUrl });

  /** Receives a batch from one queue and deletes it. */
  async function take(url: string): Promise<RunTaskMessage[]> {
    const batch = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    const got = batch.Messages ?? [];
    if (got.length > 0)
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: url,
          Entries: got.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })),
        }),
      );
    return got.map((m) => StepMessageSchema.parse(JSON.parse(m.Body ?? '')) as RunTaskMessage);
  }

  /** Whether a deadline due by `horizon` is still on its way (its execution has not finished). */
  async function deadlineInFlight(horizon: number): Promise<boolean> {
    const running = await sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING' }));
    for (const execution of running.executions ?? []) {
      const { input, startDate } = await sfn.send(
        new DescribeExecutionCommand({ executionArn: execution.executionArn }),
      );
      const { timeout_seconds } = JSON.parse(input ?? '{}') as { timeout_seconds: number };
      if ((startDate?.getTime() ?? 0) + timeout_seconds * 1000 <= horizon) return true;
    }
    return false;
  }

  // What a worker receives over the window, deleted as taken. On a busy emulator a deadline can land
  // after the window although it was due within it, so receiving goes on until every execution due
  // by then has finished (its message is in the queue by then) and the queue is empty.
  async function received(): Promise<RunTaskMessage[]> {
    const horizon = Date.now() + deliveryWindowSeconds * 1000;
    const giveUp = horizon + 30_000;
    const messages: RunTaskMessage[] = [];
    for (;;) {
      const settled = Date.now() >= horizon && !(await deadlineInFlight(horizon));
      const got = (await Promise.all([take(queueUrl), take(deadlineQueueUrl)])).flat();
      messages.push(...got);
      if ((got.length === 0 && settled) || Date.now() > giveUp) return messages;
    }
  }
  return { port, received, deadlineOncePerRun: false };
});
