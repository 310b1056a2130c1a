import { ExecutionAlreadyExists, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { ChangeMessageVisibilityCommand } from '@aws-sdk/client-sqs';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import {
  maxQueuedDeadlineSeconds,
  SqsStepQueue,
} from '../../../functions/orchestrator/adapters/sqs/sqs-step-queue.ts';
import { SqsRedeliveryBackoff } from '../../../functions/orchestrator/adapters/sqs/sqs-visibility.ts';
import { DependencyUnavailableError } from '../../../functions/shared/errors/agentos-error.ts';

const auth = {
  tenant_id: 'acme',
  principal: { id: 'user-1', type: 'user' as const },
  scopes: ['runs:write'],
  policy_context: {},
};
const urls = {
  steps: 'http://sqs.test/000000000000/steps',
  deadlines: 'http://sqs.test/000000000000/deadlines',
};
const stateMachineArn = 'arn:aws:states:us-east-1:000000000000:stateMachine:run-deadline';

/** A step queue on fake SQS and Step Functions clients that record each command, or throw `fail`. */
function queueOnFakes(fail?: { sqs?: unknown; sfn?: unknown }) {
  const sent: unknown[] = [];
  const client = (error: unknown) =>
    ({
      send: async (command: unknown) => {
        if (error !== undefined) throw error;
        sent.push(command);
        return {};
      },
    }) as unknown;
  const queue = new SqsStepQueue(client(fail?.sqs) as SQSClient, urls.steps, {
    sfn: client(fail?.sfn) as SFNClient,
    stateMachineArn,
    queueUrl: urls.deadlines,
  });
  return { queue, sent };
}

describe('SqsStepQueue.scheduleDeadline', () => {
  it('returns after one delayed message to the deadline queue for a deadline of at most 900 s', async () => {
    const { queue, sent } = queueOnFakes();
    await queue.scheduleDeadline(auth, { runId: 'run_A', afterSeconds: maxQueuedDeadlineSeconds });
    expect(maxQueuedDeadlineSeconds).toBe(900);
    expect(sent).toHaveLength(1);
    const [command] = sent;
    expect(command).toBeInstanceOf(SendMessageCommand);
    const input = (command as SendMessageCommand).input;
    expect(input).toMatchObject({
      QueueUrl: urls.deadlines,
      DelaySeconds: 900,
      MessageGroupId: 'acme',
      MessageAttributes: { tenant_id: { DataType: 'String', StringValue: 'acme' } },
    });
    expect(JSON.parse(input.MessageBody ?? '')).toEqual({ kind: 'run.deadline', run_id: 'run_A', auth });
  });

  it('returns after a delay rounded up to whole seconds', async () => {
    const { queue, sent } = queueOnFakes();
    await queue.scheduleDeadline(auth, { runId: 'run_A', afterSeconds: 2.2 });
    expect((sent[0] as SendMessageCommand).input.DelaySeconds).toBe(3);
  });

  it('returns after starting the run-deadline state machine for a deadline over 900 s', async () => {
    const { queue, sent } = queueOnFakes();
    await queue.scheduleDeadline(auth, { runId: 'run_B', afterSeconds: maxQueuedDeadlineSeconds + 1 });
    expect(sent).toHaveLength(1);
    const [command] = sent;
    expect(command).toBeInstanceOf(StartExecutionCommand);
    const input = (command as StartExecutionCommand).input;
    expect(input).toMatchObject({ stateMachineArn, name: 'run_B' });
    const execution = JSON.parse(input.input ?? '') as { timeout_seconds: number; message: string };
    expect(execution.timeout_seconds).toBe(901);
    expect(JSON.parse(execution.message)).toEqual({ kind: 'run.deadline', run_id: 'run_B', auth });
  });

  it('throws DependencyUnavailableError when the deadline queue refuses the message', async () => {
    const { queue } = queueOnFakes({ sqs: new Error('sqs down') });
    await expect(queue.scheduleDeadline(auth, { runId: 'run_A', afterSeconds: 30 })).rejects.toBeInstanceOf(
      DependencyUnavailableError,
    );
  });

  it('returns when the state machine already waits for the run', async () => {
    const { queue } = queueOnFakes({
      sfn: new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }),
    });
    await expect(
      queue.scheduleDeadline(auth, { runId: 'run_B', afterSeconds: 3_600 }),
    ).resolves.toBeUndefined();
  });
});

describe('SqsRedeliveryBackoff', () => {
  const arnOf = (url: string) => `arn:aws:sqs:us-east-1:000000000000:${url.split('/').at(-1) ?? ''}`;

  it('returns after delaying a record on the queue it came from: a deadline on the deadline queue', async () => {
    const sent: ChangeMessageVisibilityCommand[] = [];
    const sqs = { send: async (command: ChangeMessageVisibilityCommand) => void sent.push(command) };
    const backoff = new SqsRedeliveryBackoff(sqs as unknown as SQSClient, urls.steps, [urls.deadlines]);
    await backoff.redeliverAfter('from-deadlines', 4, arnOf(urls.deadlines));
    await backoff.redeliverAfter('from-steps', 8, arnOf(urls.steps));
    await backoff.redeliverAfter('unknown-source', 2);
    expect(sent.map((command) => [command.input.ReceiptHandle, command.input.QueueUrl])).toEqual([
      ['from-deadlines', urls.deadlines],
      ['from-steps', urls.steps],
      ['unknown-source', urls.steps],
    ]);
  });
});
