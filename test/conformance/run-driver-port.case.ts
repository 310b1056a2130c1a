import { describe, expect, it } from 'vitest';
import type { RunDriverPort } from '../../functions/orchestrator/ports/run-driver-port.ts';
import type { RunTaskMessage } from '../../functions/orchestrator/runtime/step-message.ts';
import type { AuthContext } from '../../functions/shared/auth/auth-context.ts';

/** Where an execution is, as Step Functions' DescribeExecution names it. */
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';

/**
 * A RunDriverPort under test: the adapter, the tasks its executions hand out for a run (in order,
 * waiting for the next one where the engine runs on its own), and an execution's status.
 */
export type RunDriverHarness = {
  driver: RunDriverPort;
  nextTask(runId: string): Promise<RunTaskMessage>;
  status(executionArn: string): Promise<ExecutionStatus>;
  /**
   * Where the engine under the adapter is an emulator that falls short of Step Functions: a task
   * failure whose cause is dropped. The suite then asserts what still holds.
   */
  emulatorGaps?: { failureCauseDropped?: boolean };
};

const auth: AuthContext = {
  tenant_id: 'acme',
  principal: { id: 'user-1', type: 'user' },
  scopes: ['runs:write'],
  policy_context: { team: 'core' },
};

type StepTask = Extract<RunTaskMessage, { kind: 'run.step' }> & { task_token: string };

async function nextStep(harness: RunDriverHarness, runId: string): Promise<StepTask> {
  const task = await harness.nextTask(runId);
  if (task.kind !== 'run.step' || task.task_token === undefined)
    throw new Error(`expected a step task with a token, got ${JSON.stringify(task)}`);
  return { ...task, task_token: task.task_token };
}

/** The execution's status once it has left RUNNING (an engine ends an execution on its own time). */
async function endedStatus(harness: RunDriverHarness, executionArn: string): Promise<ExecutionStatus> {
  for (let polls = 0; polls < 150; polls += 1) {
    const status = await harness.status(executionArn);
    if (status !== 'RUNNING') return status;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return harness.status(executionArn);
}

/** The behaviour every RunDriverPort adapter must have (HLD §4.3: long runs with task tokens). */
export function runDriverPortConformance(name: string, factory: () => Promise<RunDriverHarness>): void {
  describe(`RunDriverPort conformance: ${name}`, () => {
    const newRun = () => `run_${crypto.randomUUID().replaceAll('-', '').slice(0, 20)}`;

    it('starts one execution per run, and hands out step 1 with a task token and the run’s auth', async () => {
      const harness = await factory();
      const runId = newRun();
      const arn = await harness.driver.start(auth, { runId, stepTimeoutSeconds: 120 });
      expect(await harness.driver.start(auth, { runId, stepTimeoutSeconds: 120 })).toBe(arn);
      expect(arn).toContain(runId);
      expect(await harness.status(arn)).toBe('RUNNING');
      const task = await nextStep(harness, runId);
      expect(task).toMatchObject({ kind: 'run.step', run_id: runId, step: 1, attempt: 0, auth });
      expect(task.heartbeat_seconds).toBeGreaterThan(0);
      expect(task.heartbeat_seconds).toBeLessThan(120);
    });

    it('takes one answer per task: a later answer or heartbeat returns task_over, and the next step gets a new token', async () => {
      const harness = await factory();
      const runId = newRun();
      const arn = await harness.driver.start(auth, { runId, stepTimeoutSeconds: 120 });
      const first = await nextStep(harness, runId);
      expect(await harness.driver.heartbeat(first.task_token)).toBe('answered');
      expect(await harness.driver.succeed(first.task_token, { kind: 'next', step: 2, waitSeconds: 0 })).toBe(
        'answered',
      );
      expect(await harness.driver.succeed(first.task_token, { kind: 'end' })).toBe('task_over');
      expect(await harness.driver.heartbeat(first.task_token)).toBe('task_over');
      expect(await harness.driver.fail(first.task_token, 'StepFailed', '{}')).toBe('task_over');
      // Late answers change nothing: the execution goes on with the step the first answer named.
      const second = await nextStep(harness, runId);
      expect(second).toMatchObject({ step: 2, attempt: 0 });
      expect(second.task_token).not.toBe(first.task_token);
      expect(await harness.status(arn)).toBe('RUNNING');
    });

    it('takes exactly one of several answers sent at once, and the execution goes on as that one says', async () => {
      const harness = await factory();
      const runId = newRun();
      await harness.driver.start(auth, { runId, stepTimeoutSeconds: 120 });
      const first = await nextStep(harness, runId);
      const steps = [2, 3, 4, 5];
      const answers = await Promise.all(
        steps.map((step) => harness.driver.succeed(first.task_token, { kind: 'next', step, waitSeconds: 0 })),
      );
      expect(answers.filter((answer) => answer === 'answered')).toHaveLength(1);
      expect(answers.filter((answer) => answer === 'task_over')).toHaveLength(steps.length - 1);
      const taken = steps[answers.indexOf('answered')];
      expect(await nextStep(harness, runId)).toMatchObject({ step: taken, attempt: 0 });
    });

    it('hands out the next step once a continuation’s pause is over', async () => {
      const harness = await factory();
      const runId = newRun();
      await harness.driver.start(auth, { runId, stepTimeoutSeconds: 120 });
      const first = await nextStep(harness, runId);
      await harness.driver.succeed(first.task_token, { kind: 'next', step: 2, waitSeconds: 1 });
      expect(await nextStep(harness, runId)).toMatchObject({ run_id: runId, step: 2, attempt: 0 });
    });

    it('ends the execution when a step answers end', async () => {
      const harness = await factory();
      const runId = newRun();
      const arn = await harness.driver.start(auth, { runId, stepTimeoutSeconds: 120 });
      const task = await nextStep(harness, runId);
      expect(await harness.driver.succeed(task.task_token, { kind: 'end' })).toBe('answered');
      expect(await endedStatus(harness, arn)).toBe('SUCCEEDED');
    });

    it('hands a failed step out again with a new token until its attempts are spent, then a run.fail task with the reason', async () => {
      const harness = await factory();
      const runId = newRun();
      const arn = await harness.driver.start(auth, { runId, stepTimeoutSeconds: 120 });
      const cause = JSON.stringify({ code: 'dependency_unavailable', message: 'the model is down' });
      const tokens: string[] = [];
      const attempts: (number | undefined)[] = [];
      for (let i = 0; i < 3; i += 1) {
        const task = await nextStep(harness, runId);
        tokens.push(task.task_token);
        attempts.push(task.attempt);
        expect(task.max_attempts).toBe(3);
        expect(await harness.driver.fail(task.task_token, 'StepRetry', cause)).toBe('answered');
      }
      expect(attempts).toEqual([0, 1, 2]);
      expect(new Set(tokens).size).toBe(3);
      expect(await harness.nextTask(runId)).toEqual({
        kind: 'run.fail',
        run_id: runId,
        step: 1,
        auth,
        error: 'StepRetry',
        cause: harness.emulatorGaps?.failureCauseDropped === true ? null : cause,
      });
      expect(await endedStatus(harness, arn)).toBe('FAILED');
    });

    it('stops an execution: its open task is over, and stopping it again or an unknown one changes nothing', async () => {
      const harness = await factory();
      const runId = newRun();
      const arn = await harness.driver.start(auth, { runId, stepTimeoutSeconds: 120 });
      const task = await nextStep(harness, runId);
      await harness.driver.stop(arn, 'canceled');
      expect(await endedStatus(harness, arn)).toBe('ABORTED');
      expect(await harness.driver.heartbeat(task.task_token)).toBe('task_over');
      expect(await harness.driver.succeed(task.task_token, { kind: 'end' })).toBe('task_over');
      await expect(harness.driver.stop(arn, 'canceled again')).resolves.toBeUndefined();
      await expect(
        harness.driver.stop(arn.replace(runId, newRun()), 'never started'),
      ).resolves.toBeUndefined();
      expect(await harness.status(arn)).toBe('ABORTED');
    });
  });
}
