import { randomUUID } from 'node:crypto';
import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import type { RunDriverPort, StepContinuation, TaskAnswer } from '../../ports/run-driver-port.ts';
import type { RunTaskMessage } from '../../runtime/step-message.ts';

/** Where an execution is, named as Step Functions' DescribeExecution names it. */
export type InMemoryExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';

/** What the driver recorded of one execution. */
export type InMemoryExecution = {
  executionArn: string;
  runId: string;
  status: InMemoryExecutionStatus;
  /** The step its open task (or pending pause) is about; the last step it ran once it is over. */
  step: number;
  heartbeatSeconds: number;
  stepTimeoutSeconds: number;
  /** Why it was stopped, when it was. */
  stopReason: string | null;
};

type Execution = InMemoryExecution & { auth: AuthContext };

type OpenTask = { executionArn: string; step: number; attempt: number };

type Pending = { message: RunTaskMessage; dueAt: number };

/**
 * RunDriverPort held in one process's memory, for the unit tier and single-process use only. It
 * behaves as the long-run state machine does on Step Functions (HLD §4.3): one execution per run
 * (named by the run id, so starting it again returns the same id); each step handed out as a
 * `run.step` task with a task token, the attempt (0 for the first) and the heartbeat interval; a
 * task answered once (any later answer, heartbeat included, or one after the execution stopped is
 * `task_over`); `next` hands out the continuation's step once its pause has passed on the injected
 * clock; a failed (or timed-out) task is handed out again with a new token until its attempts are
 * spent, then a `run.fail` task carries the last error and cause and the execution fails. Nothing is
 * pushed to a worker: a test calls {@link take} for the tasks that are due. Retries are due at once
 * (the state machine backs off between them; the worker's behaviour does not depend on it).
 */
export class InMemoryRunDriver implements RunDriverPort {
  readonly #executions = new Map<string, Execution>();
  readonly #tasks = new Map<string, OpenTask>();
  readonly #pending: Pending[] = [];
  readonly #now: () => Date;
  readonly #heartbeatSeconds: number;
  readonly #stepAttempts: number;

  /**
   * `heartbeatSeconds`: the interval the worker is asked to heartbeat at (kept under the step
   * timeout, as on Step Functions); `stepAttempts`: the attempts of one step (the state machine's 3).
   */
  constructor(options: { now?: () => Date; heartbeatSeconds?: number; stepAttempts?: number } = {}) {
    this.#now = options.now ?? (() => new Date());
    this.#heartbeatSeconds = options.heartbeatSeconds ?? 60;
    this.#stepAttempts = options.stepAttempts ?? 3;
  }

  async start(auth: AuthContext, run: { runId: string; stepTimeoutSeconds: number }): Promise<string> {
    const executionArn = `arn:aws:states:local:000000000000:execution:in-memory-long-run:${run.runId}`;
    if (this.#executions.has(executionArn)) return executionArn;
    const stepTimeoutSeconds = Math.max(run.stepTimeoutSeconds, 2);
    const execution: Execution = {
      executionArn,
      runId: run.runId,
      auth: structuredClone(auth),
      status: 'RUNNING',
      step: 1,
      heartbeatSeconds: Math.min(this.#heartbeatSeconds, stepTimeoutSeconds - 1),
      stepTimeoutSeconds,
      stopReason: null,
    };
    this.#executions.set(executionArn, execution);
    this.#handOut(execution, 1, 0, 0);
    return executionArn;
  }

  async stop(executionArn: string, reason: string): Promise<void> {
    const execution = this.#executions.get(executionArn);
    if (execution?.status !== 'RUNNING') return;
    execution.status = 'ABORTED';
    execution.stopReason = reason;
    this.#closeTasksOf(executionArn);
    this.#dropPendingOf(execution.runId);
  }

  async heartbeat(taskToken: string): Promise<TaskAnswer> {
    return this.#tasks.has(taskToken) ? 'answered' : 'task_over';
  }

  async succeed(taskToken: string, continuation: StepContinuation): Promise<TaskAnswer> {
    const found = this.#answer(taskToken);
    if (found === undefined) return 'task_over';
    const { execution } = found;
    if (continuation.kind === 'end') {
      execution.status = 'SUCCEEDED';
      return 'answered';
    }
    this.#handOut(execution, continuation.step, 0, Math.max(0, continuation.waitSeconds));
    return 'answered';
  }

  async fail(taskToken: string, error: string, cause: string): Promise<TaskAnswer> {
    const found = this.#answer(taskToken);
    if (found === undefined) return 'task_over';
    this.#retryOrFail(found.execution, found.task, error, cause);
    return 'answered';
  }

  /**
   * The task's heartbeat or step timeout passed (what Step Functions does on its own): the task is
   * over and the step is retried or the run failed, as for a failure with `States.Timeout`.
   */
  expire(taskToken: string): void {
    const found = this.#answer(taskToken);
    if (found === undefined) return;
    this.#retryOrFail(found.execution, found.task, 'States.Timeout', 'The task timed out');
  }

  /**
   * Removes and returns the tasks due by the clock's current time, earliest due first (in the order
   * handed out among equals). Tasks behind a pause stay until the clock passes it.
   */
  take(): RunTaskMessage[] {
    const now = this.#now().getTime();
    const due = this.#pending.filter((task) => task.dueAt <= now);
    const waiting = this.#pending.filter((task) => task.dueAt > now);
    this.#pending.splice(0, this.#pending.length, ...waiting);
    return due.sort((a, b) => a.dueAt - b.dueAt).map((task) => structuredClone(task.message));
  }

  /** The execution with this id, as recorded now; undefined for one never started. */
  execution(executionArn: string): InMemoryExecution | undefined {
    const execution = this.#executions.get(executionArn);
    if (execution === undefined) return undefined;
    const view: InMemoryExecution = {
      executionArn: execution.executionArn,
      runId: execution.runId,
      status: execution.status,
      step: execution.step,
      heartbeatSeconds: execution.heartbeatSeconds,
      stepTimeoutSeconds: execution.stepTimeoutSeconds,
      stopReason: execution.stopReason,
    };
    return structuredClone(view);
  }

  /** Every execution started so far, in the order they were. */
  executions(): InMemoryExecution[] {
    return [...this.#executions.keys()].flatMap((arn) => this.execution(arn) ?? []);
  }

  /** Closes the open task of `taskToken`; undefined when it is not open (answered, stopped, unknown). */
  #answer(taskToken: string): { execution: Execution; task: OpenTask } | undefined {
    const task = this.#tasks.get(taskToken);
    if (task === undefined) return undefined;
    this.#tasks.delete(taskToken);
    const execution = this.#executions.get(task.executionArn);
    if (execution?.status !== 'RUNNING') return undefined;
    return { execution, task };
  }

  #retryOrFail(execution: Execution, task: OpenTask, error: string, cause: string): void {
    if (task.attempt + 1 < this.#stepAttempts) {
      this.#handOut(execution, task.step, task.attempt + 1, 0);
      return;
    }
    execution.status = 'FAILED';
    this.#push(
      {
        kind: 'run.fail',
        run_id: execution.runId,
        step: task.step,
        auth: structuredClone(execution.auth),
        error,
        cause,
      },
      0,
    );
  }

  /** Opens the task of `step` and queues its message, due after `afterSeconds`. */
  #handOut(execution: Execution, step: number, attempt: number, afterSeconds: number): void {
    const taskToken = randomUUID();
    execution.step = step;
    this.#tasks.set(taskToken, { executionArn: execution.executionArn, step, attempt });
    this.#push(
      {
        kind: 'run.step',
        run_id: execution.runId,
        step,
        auth: structuredClone(execution.auth),
        task_token: taskToken,
        attempt,
        max_attempts: this.#stepAttempts,
        heartbeat_seconds: execution.heartbeatSeconds,
      },
      afterSeconds,
    );
  }

  #push(message: RunTaskMessage, afterSeconds: number): void {
    this.#pending.push({ message, dueAt: this.#now().getTime() + afterSeconds * 1000 });
  }

  #closeTasksOf(executionArn: string): void {
    for (const [token, task] of this.#tasks)
      if (task.executionArn === executionArn) this.#tasks.delete(token);
  }

  /**
   * A stopped execution hands nothing more out: a step behind a pause is dropped. A task already
   * handed out stays queued, as a message sent to the queue does; its answer is then `task_over`.
   */
  #dropPendingOf(runId: string): void {
    const now = this.#now().getTime();
    const kept = this.#pending.filter((task) => task.message.run_id !== runId || task.dueAt <= now);
    this.#pending.splice(0, this.#pending.length, ...kept);
  }
}
