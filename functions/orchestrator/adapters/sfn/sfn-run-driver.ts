import {
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  InvalidToken,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  StartExecutionCommand,
  StopExecutionCommand,
  TaskDoesNotExist,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import { DependencyUnavailableError } from '../../../shared/errors/agentos-error.ts';
import type { RunDriverPort, StepContinuation, TaskAnswer } from '../../ports/run-driver-port.ts';

/** Step Functions' limits on a task failure's error and cause. */
const maxErrorLength = 256;
const maxCauseLength = 32_768;

/** The ARN of the execution named `name` of a state machine (what StartExecution would return). */
export function executionArnOf(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}

/** True for the answers that mean the task (or its execution) is over, not that the call failed. */
function taskIsOver(error: unknown): boolean {
  return (
    error instanceof TaskTimedOut ||
    error instanceof TaskDoesNotExist ||
    error instanceof InvalidToken ||
    error instanceof ExecutionDoesNotExist
  );
}

/**
 * RunDriverPort on the long-run Step Functions state machine (HLD §4.3): one Standard execution per
 * run, named by the run id, whose input is what its first step task carries (the run's Auth Context
 * included) and the step timings.
 */
export class SfnRunDriver implements RunDriverPort {
  private readonly sfn: SFNClient;
  private readonly stateMachineArn: string;
  private readonly heartbeatSeconds: number;

  constructor(sfn: SFNClient, options: { stateMachineArn: string; heartbeatSeconds: number }) {
    this.sfn = sfn;
    this.stateMachineArn = options.stateMachineArn;
    this.heartbeatSeconds = options.heartbeatSeconds;
  }

  async start(auth: AuthContext, run: { runId: string; stepTimeoutSeconds: number }): Promise<string> {
    // A heartbeat interval at or past the step timeout would never fire: keep it inside.
    const stepTimeoutSeconds = Math.max(run.stepTimeoutSeconds, 2);
    const input = {
      run_id: run.runId,
      auth,
      step: 1,
      heartbeat_seconds: Math.min(this.heartbeatSeconds, stepTimeoutSeconds - 1),
      step_timeout_seconds: stepTimeoutSeconds,
    };
    try {
      const started = await this.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name: run.runId,
          input: JSON.stringify(input),
        }),
      );
      return started.executionArn ?? executionArnOf(this.stateMachineArn, run.runId);
    } catch (cause) {
      // Started before (a retried create): the run's execution is the one with its name.
      if (cause instanceof ExecutionAlreadyExists) return executionArnOf(this.stateMachineArn, run.runId);
      throw new DependencyUnavailableError('The long run could not be started', { cause });
    }
  }

  async stop(executionArn: string, reason: string): Promise<void> {
    try {
      await this.sfn.send(
        new StopExecutionCommand({ executionArn, error: 'RunEnded', cause: reason.slice(0, maxCauseLength) }),
      );
    } catch (cause) {
      if (cause instanceof ExecutionDoesNotExist) return;
      throw new DependencyUnavailableError('The long run could not be stopped', { cause });
    }
  }

  heartbeat(taskToken: string): Promise<TaskAnswer> {
    return this.answer(new SendTaskHeartbeatCommand({ taskToken }), 'heartbeat');
  }

  succeed(taskToken: string, continuation: StepContinuation): Promise<TaskAnswer> {
    return this.answer(
      new SendTaskSuccessCommand({ taskToken, output: JSON.stringify({ continuation }) }),
      'result',
    );
  }

  fail(taskToken: string, error: string, cause: string): Promise<TaskAnswer> {
    return this.answer(
      new SendTaskFailureCommand({
        taskToken,
        error: error.slice(0, maxErrorLength),
        cause: cause.slice(0, maxCauseLength),
      }),
      'failure',
    );
  }

  private async answer(
    command: SendTaskHeartbeatCommand | SendTaskSuccessCommand | SendTaskFailureCommand,
    what: string,
  ): Promise<TaskAnswer> {
    try {
      // One client, three command types: the union does not narrow `send`'s overloads.
      await this.sfn.send(command as SendTaskSuccessCommand);
      return 'answered';
    } catch (cause) {
      if (taskIsOver(cause)) return 'task_over';
      throw new DependencyUnavailableError(`The step task's ${what} could not be sent`, { cause });
    }
  }
}
