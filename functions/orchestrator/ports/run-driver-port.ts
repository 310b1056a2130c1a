import type { AuthContext } from '../../shared/auth/auth-context.ts';

/**
 * What a step of a `long` run tells the state machine driving it: run `step` next (after
 * `waitSeconds`, which the execution waits out, longer than any function can run), or end.
 */
export type StepContinuation = { kind: 'next'; step: number; waitSeconds: number } | { kind: 'end' };

/** `answered`: the execution took the answer; `task_over`: the task had ended (stopped, timed out, answered). */
export type TaskAnswer = 'answered' | 'task_over';

/**
 * Drives `long` runs on a workflow engine (HLD §4.3: Step Functions Standard with task tokens). The
 * run service starts and stops executions; the step worker answers the step tasks they hand out.
 */
export interface RunDriverPort {
  /**
   * Starts the execution that drives a run from step 1 and returns its id (ARN). One execution per
   * run: starting it again returns the same id.
   */
  start(auth: AuthContext, run: { runId: string; stepTimeoutSeconds: number }): Promise<string>;
  /** Stops an execution; one already over (or unknown) is left as it is. */
  stop(executionArn: string, reason: string): Promise<void>;
  /** Tells the execution the step is still being worked on. */
  heartbeat(taskToken: string): Promise<TaskAnswer>;
  /** Completes the step task with what comes next. */
  succeed(taskToken: string, continuation: StepContinuation): Promise<TaskAnswer>;
  /** Fails the step task; the state machine retries it per its policy, then fails the run. */
  fail(taskToken: string, error: string, cause: string): Promise<TaskAnswer>;
}
