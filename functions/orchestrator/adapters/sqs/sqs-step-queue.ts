import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import { DependencyUnavailableError } from '../../../shared/errors/agentos-error.ts';
import type { QueuePort, StepTask } from '../../ports/queue-port.ts';
import type { StepMessage } from '../../runtime/step-message.ts';

/** QueuePort on an SQS standard queue; the message carries the Auth Context the step runs under. */
export class SqsStepQueue implements QueuePort {
  private readonly sqs: SQSClient;
  private readonly queueUrl: string;

  constructor(sqs: SQSClient, queueUrl: string) {
    this.sqs = sqs;
    this.queueUrl = queueUrl;
  }

  async enqueueStep(auth: AuthContext, task: StepTask): Promise<void> {
    const message: StepMessage = { kind: 'run.step', run_id: task.runId, step: task.step, auth };
    try {
      await this.sqs.send(
        new SendMessageCommand({
          QueueUrl: this.queueUrl,
          MessageBody: JSON.stringify(message),
          MessageAttributes: { tenant_id: { DataType: 'String', StringValue: auth.tenant_id } },
        }),
      );
    } catch (cause) {
      throw new DependencyUnavailableError('The step queue is unavailable', { cause });
    }
  }
}
