import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import type { QueuePort, StepTask } from '../../ports/queue-port.ts';
import type { StepMessage } from '../../runtime/step-message.ts';

/**
 * QueuePort held in this process, for the unit tier: step tasks and deadlines wait here until a test
 * (or a single-process driver) takes them, in the order they were sent. A deadline is scheduled once
 * per run, as the Step Functions execution named after the run is.
 */
export class InMemoryStepQueue implements QueuePort {
  readonly #pending: StepMessage[] = [];
  readonly #deadlines = new Map<string, { message: StepMessage; afterSeconds: number }>();

  async enqueueStep(auth: AuthContext, task: StepTask): Promise<void> {
    this.#pending.push(structuredClone({ kind: 'run.step', run_id: task.runId, step: task.step, auth }));
  }

  async scheduleDeadline(auth: AuthContext, task: { runId: string; afterSeconds: number }): Promise<void> {
    if (this.#deadlines.has(task.runId)) return;
    this.#deadlines.set(task.runId, {
      message: structuredClone({ kind: 'run.deadline', run_id: task.runId, auth }),
      afterSeconds: task.afterSeconds,
    });
  }

  /** Removes and returns the step tasks sent so far, oldest first. */
  take(): StepMessage[] {
    return this.#pending.splice(0, this.#pending.length);
  }

  /** The deadlines scheduled so far, one per run. */
  deadlines(): { message: StepMessage; afterSeconds: number }[] {
    return structuredClone([...this.#deadlines.values()]);
  }
}
