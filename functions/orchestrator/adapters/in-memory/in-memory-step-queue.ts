import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import type { QueuePort, StepTask } from '../../ports/queue-port.ts';
import type { RunStopTask, RunTaskMessage, StepMessage } from '../../runtime/step-message.ts';
import { runStepMessage, runStopMessage, stepDelaySeconds } from '../../runtime/step-message.ts';

/** A scheduled deadline: its task, the delay it was scheduled with, and when it becomes due. */
export type ScheduledDeadline = { message: StepMessage; afterSeconds: number; dueAt: string };

type Pending = { message: RunTaskMessage; dueAt: number };

/**
 * QueuePort held in one process's memory, for the unit tier and single-process use only (nothing is
 * shared between processes or survives a restart). Nothing is pushed to a worker: a test (or a
 * single-process driver) calls {@link take} to drain the tasks that are due. A step is due at once; a
 * deadline `afterSeconds` after it was scheduled by the injected clock, so a test moves the clock to
 * make it due. As with the Step Functions execution named after the run, a run's deadline is
 * scheduled once: asking again (even with another delay, even after it fired) changes nothing.
 * Messages are copies, so a caller cannot change a queued task.
 */
export class InMemoryStepQueue implements QueuePort {
  readonly #pending: Pending[] = [];
  readonly #stops: StepMessage[] = [];
  readonly #deadlines = new Map<string, ScheduledDeadline>();
  readonly #now: () => Date;

  constructor(options: { now?: () => Date } = {}) {
    this.#now = options.now ?? (() => new Date());
  }

  async enqueueStep(auth: AuthContext, task: StepTask): Promise<void> {
    const message = runStepMessage(auth, task);
    const delayMs = stepDelaySeconds(task) * 1000;
    this.#pending.push({ message: structuredClone(message), dueAt: this.#now().getTime() + delayMs });
  }

  /** Queues the rest of an operator's stop of every run of a tenant, apart: {@link takeRunStops} takes it. */
  async enqueueRunStop(operator: AuthContext, task: RunStopTask): Promise<void> {
    const message = runStopMessage(operator, task);
    this.#stops.push(structuredClone(message));
  }

  async scheduleDeadline(auth: AuthContext, task: { runId: string; afterSeconds: number }): Promise<void> {
    if (this.#deadlines.has(task.runId)) return;
    const message: StepMessage = { kind: 'run.deadline', run_id: task.runId, auth };
    const dueAt = this.#now().getTime() + task.afterSeconds * 1000;
    this.#deadlines.set(task.runId, {
      message: structuredClone(message),
      afterSeconds: task.afterSeconds,
      dueAt: new Date(dueAt).toISOString(),
    });
    this.#pending.push({ message: structuredClone(message), dueAt });
  }

  /**
   * Removes and returns the tasks due by the clock's current time (steps, and deadlines whose delay
   * has passed), earliest due first, in the order sent among equals. Later deadlines stay queued.
   */
  take(): RunTaskMessage[] {
    const now = this.#now().getTime();
    const due = this.#pending.filter((task) => task.dueAt <= now);
    const waiting = this.#pending.filter((task) => task.dueAt > now);
    this.#pending.splice(0, this.#pending.length, ...waiting);
    // Array.prototype.sort is stable, so tasks due at the same time keep the order they were sent in.
    return due.sort((a, b) => a.dueAt - b.dueAt).map((task) => task.message);
  }

  /** Every deadline scheduled so far, one per run, whether it has been taken or not. */
  deadlines(): ScheduledDeadline[] {
    return structuredClone([...this.#deadlines.values()]);
  }

  /** Removes and returns the queued stops of every run of a tenant, in the order sent. */
  takeRunStops(): Extract<StepMessage, { kind: 'runs.stop' }>[] {
    return this.#stops.splice(0).filter((message) => message.kind === 'runs.stop');
  }
}
