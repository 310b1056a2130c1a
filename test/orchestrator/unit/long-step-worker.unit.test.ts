import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  createStepWorkerHandler,
  longRunFailure,
} from '../../../functions/orchestrator/adapters/sqs/sqs-step-worker.ts';
import type { RunDriverPort, TaskAnswer } from '../../../functions/orchestrator/ports/run-driver-port.ts';
import type { StepEngine, StepOutcome } from '../../../functions/orchestrator/runtime/step-engine.ts';
import type { RunError } from '../../../functions/orchestrator/schemas/run.ts';
import { DependencyUnavailableError } from '../../../functions/shared/errors/agentos-error.ts';
import { createTelemetry } from '../../../functions/shared/observability/telemetry.ts';

const auth = {
  tenant_id: 'acme',
  principal: { id: 'u', type: 'user' as const },
  scopes: [],
  policy_context: {},
};

function record(body: string, receiveCount = 1): SQSRecord {
  return {
    messageId: 'm-1',
    receiptHandle: 'r-1',
    body,
    attributes: { ApproximateReceiveCount: String(receiveCount) },
  } as unknown as SQSRecord;
}

const longStep = (attempt = 0) =>
  JSON.stringify({
    kind: 'run.step',
    run_id: 'run_1',
    step: 2,
    auth,
    task_token: 'token-1',
    attempt,
    max_attempts: 3,
    heartbeat_seconds: 60,
  });

/**
 * A worker whose engine answers `outcome` (or throws it), recording what reached the driver. Both
 * are doubles: the test is about what the worker sends (the in-memory driver keeps no answers) and
 * how it takes an answer it cannot provoke on a real driver at will (`task_over`).
 */
function worker(outcome: StepOutcome | Error, answer: TaskAnswer = 'answered') {
  const seen = {
    answers: [] as unknown[],
    deliveries: [] as unknown[],
    failed: [] as { runId: string; error: RunError }[],
    abandoned: [] as { runId: string; attempts: number; error: unknown }[],
    delays: [] as (number | undefined)[],
    reported: [] as string[],
  };
  const engine = {
    execute: async (_auth: unknown, delivery: unknown) => {
      seen.deliveries.push(delivery);
      if (outcome instanceof Error) throw outcome;
      return outcome;
    },
    fail: async (_auth: unknown, runId: string, error: RunError) => {
      seen.failed.push({ runId, error });
    },
    abandon: async (_auth: unknown, runId: string, attempts: number, error: unknown) => {
      seen.abandoned.push({ runId, attempts, error });
    },
  } as unknown as StepEngine;
  const driver = {
    heartbeat: async () => answer,
    succeed: async (token: string, continuation: unknown) => {
      seen.answers.push({ token, continuation });
      return answer;
    },
    fail: async (token: string, error: string, cause: string) => {
      seen.answers.push({ token, error, cause: JSON.parse(cause) as unknown });
      return answer;
    },
  } as unknown as RunDriverPort;
  const handler = createStepWorkerHandler({
    engine,
    telemetry: createTelemetry('agent-orchestrator'),
    maxAttempts: 3,
    maxReceives: 5,
    driver,
    reportFailure: (what) => seen.reported.push(what),
    redeliverAfter: async (_receipt, _attempt, seconds) => {
      seen.delays.push(seconds);
    },
  });
  const run = (body: string, receiveCount = 1) =>
    handler({ Records: [record(body, receiveCount)] } as SQSEvent, { functionName: 'w' } as Context);
  return { run, seen };
}

describe('the step worker on a long run', () => {
  it('answers the task with the continuation and acknowledges the message', async () => {
    const continuation = { kind: 'next', step: 3, waitSeconds: 30 } as const;
    const { run, seen } = worker({ status: 'done', reason: 'step completed', continuation });
    expect(await run(longStep(1))).toEqual({ batchItemFailures: [] });
    expect(seen.deliveries).toEqual([{ runId: 'run_1', step: 2, attempt: 2, maxAttempts: 3 }]);
    expect(seen.answers).toEqual([{ token: 'token-1', continuation }]);
  });

  it('ends the execution when the step leaves nothing to continue', async () => {
    const { run, seen } = worker({ status: 'done', reason: 'run is canceled' });
    await run(longStep());
    expect(seen.answers).toEqual([{ token: 'token-1', continuation: { kind: 'end' } }]);
  });

  it('fails the task for the state machine to retry when the step asks for a retry', async () => {
    // A model retry's backoff does not make it a wait: it spends one of the state machine's attempts.
    const { run, seen } = worker({ status: 'retry', reason: 'dependency_unavailable', retryAfterSeconds: 2 });
    expect(await run(longStep())).toEqual({ batchItemFailures: [] });
    expect(seen.answers).toEqual([
      {
        token: 'token-1',
        error: 'StepRetry',
        cause: { code: 'dependency_unavailable', message: expect.stringContaining('retried') },
      },
    ]);
  });

  it('waits out another attempt’s claim in the execution, running the same step again', async () => {
    const { run, seen } = worker({
      status: 'retry',
      reason: 'request_in_progress',
      retryAfterSeconds: 75,
      waitsForClaim: true,
    });
    await run(longStep());
    expect(seen.answers).toEqual([
      { token: 'token-1', continuation: { kind: 'next', step: 2, waitSeconds: 75 } },
    ]);
  });

  it('fails the task with the step’s error when the step throws', async () => {
    const { run, seen } = worker(new Error('boom'));
    await run(longStep());
    expect(seen.answers).toEqual([
      { token: 'token-1', error: 'StepFailed', cause: { code: 'internal', message: expect.any(String) } },
    ]);
  });

  it('fails the run with the step’s own error when the last attempt throws, and the task too', async () => {
    const boom = new DependencyUnavailableError('the tool registry is unreachable');
    const { run, seen } = worker(boom);
    await run(longStep(1));
    expect(seen.abandoned).toEqual([]);
    await run(longStep(2));
    expect(seen.abandoned).toEqual([{ runId: 'run_1', attempts: 3, error: boom }]);
    expect(seen.answers.at(-1)).toEqual({
      token: 'token-1',
      error: 'StepFailed',
      cause: { code: 'dependency_unavailable', message: 'the tool registry is unreachable' },
    });
  });

  it('acknowledges quietly when the task is already over (a canceled run, a timed-out attempt)', async () => {
    const { run, seen } = worker({ status: 'done', reason: 'run is canceled' }, 'task_over');
    expect(await run(longStep())).toEqual({ batchItemFailures: [] });
    expect(seen.reported).toEqual([]);
  });

  it('fails the run with the reason the state machine gave up with', async () => {
    const { run, seen } = worker({ status: 'done', reason: 'unused' });
    const failTask = { kind: 'run.fail', run_id: 'run_1', step: 4, auth, error: 'States.Timeout', cause: '' };
    expect(await run(JSON.stringify(failTask))).toEqual({ batchItemFailures: [] });
    expect(seen.failed).toEqual([
      { runId: 'run_1', error: { code: 'step_timeout', message: expect.stringContaining('Step 4') } },
    ]);
  });
});

describe('an invalid step message', () => {
  it('comes back at once, so it reaches the dead-letter queue in seconds, and fails the run it names', async () => {
    const { run, seen } = worker({ status: 'done', reason: 'unused' });
    const answer = await run(JSON.stringify({ kind: 'run.step', run_id: 'run_1', step: 'one', auth }));
    expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-1' }] });
    expect(seen.delays).toEqual([0]);
    expect(seen.failed).toEqual([
      { runId: 'run_1', error: { code: 'invalid_step_message', message: expect.stringContaining('step') } },
    ]);
  });

  it('comes back at once when it names no run, failing nothing', async () => {
    const { run, seen } = worker({ status: 'done', reason: 'unused' });
    await run('not json');
    expect(seen.delays).toEqual([0]);
    expect(seen.failed).toEqual([]);
  });
});

describe('the failure of a long run', () => {
  it('names the step’s own error code when its last attempt failed', () => {
    expect(
      longRunFailure({
        kind: 'run.fail',
        run_id: 'r',
        step: 2,
        auth,
        error: 'StepRetry',
        cause: JSON.stringify({ code: 'rate_limited', message: 'slow down' }),
      }),
    ).toEqual({ code: 'rate_limited', message: 'Step 2 failed on every attempt: slow down' });
  });
});
