import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { outgoingTraceparent, traceparentHeader } from '../../../shared/observability/trace-context.ts';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { ExecutionAlreadyExists, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import { DependencyUnavailableError } from '../../../shared/errors/agentos-error.ts';
import type { QueuePort, StepTask } from '../../ports/queue-port.ts';
import type { RunStopTask, StepMessage } from '../../runtime/step-message.ts';
import { runStepMessage, runStopMessage, stepDelaySeconds } from '../../runtime/step-message.ts';

type StringAttributes = Record<string, { DataType: 'String'; StringValue: string }>;

/**
 * A message's attributes: its tenant (the local poller's lane) and the current W3C trace, so the
 * step worker goes on with it (HLD §9.1).
 */
function messageAttributes(tenantId: string): StringAttributes {
  const traceparent = outgoingTraceparent();
  return {
    tenant_id: { DataType: 'String', StringValue: tenantId },
    ...(traceparent === undefined
      ? {}
      : { [traceparentHeader]: { DataType: 'String', StringValue: traceparent } }),
  };
}

/** SQS's longest message delay: a deadline further away goes through the run-deadline state machine. */
export const maxQueuedDeadlineSeconds = 900;

/** Where run deadlines wait: the deadline queue, and the run-deadline state machine beyond its reach. */
export type DeadlineTransport = { sfn: SFNClient; stateMachineArn: string; queueUrl: string };

/**
 * QueuePort on an SQS standard queue; messages carry the Auth Context the task runs under, and the
 * tenant as their message group id so steps are scheduled fairly across tenants. A deadline at most
 * {@link maxQueuedDeadlineSeconds} away is one message delayed on the deadline queue, which the step
 * worker consumes too (HLD §4.3): one request instead of an execution's three state transitions,
 * and the step queue's age (the backlog alarm) never counts a waiting deadline. A longer deadline
 * outlives SQS's delay limit, so the run-deadline state machine waits it out and then sends the
 * task to the step queue.
 */
export class SqsStepQueue implements QueuePort {
  private readonly sqs: SQSClient;
  private readonly queueUrl: string;
  private readonly deadlines: DeadlineTransport;

  constructor(sqs: SQSClient, queueUrl: string, deadlines: DeadlineTransport) {
    this.sqs = sqs;
    this.queueUrl = queueUrl;
    this.deadlines = deadlines;
  }

  async enqueueStep(auth: AuthContext, task: StepTask): Promise<void> {
    const message = runStepMessage(auth, task);
    const delaySeconds = stepDelaySeconds(task);
    try {
      await this.sqs.send(
        new SendMessageCommand({
          QueueUrl: this.queueUrl,
          MessageBody: JSON.stringify(message),
          ...(delaySeconds === 0 ? {} : { DelaySeconds: delaySeconds }),
          // Fair scheduling across tenants (HLD §10.2): an SQS fair queue (a standard queue given
          // message group ids) serves a quiet tenant's steps before a noisy one's backlog, and the
          // local poller dispatches by the same id.
          MessageGroupId: auth.tenant_id,
          MessageAttributes: messageAttributes(auth.tenant_id),
        }),
      );
    } catch (cause) {
      throw new DependencyUnavailableError('The step queue is unavailable', { cause });
    }
  }

  /**
   * Hands the rest of an operator's stop of every run of a tenant to the step worker (HLD §10.2),
   * in the lane of the tenant whose runs it stops.
   */
  async enqueueRunStop(operator: AuthContext, task: RunStopTask): Promise<void> {
    const message = runStopMessage(operator, task);
    try {
      await this.sqs.send(
        new SendMessageCommand({
          QueueUrl: this.queueUrl,
          MessageBody: JSON.stringify(message),
          MessageGroupId: task.tenantId,
          MessageAttributes: messageAttributes(task.tenantId),
        }),
      );
    } catch (cause) {
      throw new DependencyUnavailableError('The step queue is unavailable', { cause });
    }
  }

  /**
   * Schedules the run's deadline. Asked twice (a redelivered first step), a queued deadline is sent
   * twice: the second one to arrive finds the run over, and expiring a run that is over does
   * nothing. The state machine's execution is named after the run, so it starts once.
   */
  async scheduleDeadline(auth: AuthContext, task: { runId: string; afterSeconds: number }): Promise<void> {
    const message: StepMessage = { kind: 'run.deadline', run_id: task.runId, auth };
    if (task.afterSeconds <= maxQueuedDeadlineSeconds) {
      try {
        await this.sqs.send(
          new SendMessageCommand({
            QueueUrl: this.deadlines.queueUrl,
            MessageBody: JSON.stringify(message),
            DelaySeconds: Math.max(0, Math.ceil(task.afterSeconds)),
            MessageGroupId: auth.tenant_id,
            MessageAttributes: messageAttributes(auth.tenant_id),
          }),
        );
      } catch (cause) {
        throw new DependencyUnavailableError('The run deadline could not be scheduled', { cause });
      }
      return;
    }
    try {
      await this.deadlines.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: this.deadlines.stateMachineArn,
          // One execution per run (run ids are unique across tenants): a redelivered start finds it there.
          name: task.runId,
          input: JSON.stringify({
            timeout_seconds: task.afterSeconds,
            tenant_id: auth.tenant_id,
            message: JSON.stringify(message),
          }),
        }),
      );
    } catch (cause) {
      if (cause instanceof ExecutionAlreadyExists) return;
      throw new DependencyUnavailableError('The run deadline could not be scheduled', { cause });
    }
  }
}
