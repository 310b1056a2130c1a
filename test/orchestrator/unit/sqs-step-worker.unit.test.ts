import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  annotateBatch,
  chainedRetrySeconds,
  createStepWorkerHandler,
} from '../../../functions/orchestrator/adapters/sqs/sqs-step-worker.ts';
import type {
  StepDelivery,
  StepEngine,
  StepOutcome,
} from '../../../functions/orchestrator/runtime/step-engine.ts';
import { DependencyUnavailableError } from '../../../functions/shared/errors/agentos-error.ts';
import { createTelemetry } from '../../../functions/shared/observability/telemetry.ts';

const auth = {
  tenant_id: 'acme',
  principal: { id: 'u', type: 'user' as const },
  scopes: [],
  policy_context: {},
};

function record(receiveCount: number): SQSRecord {
  return {
    messageId: `m-${receiveCount}`,
    receiptHandle: `r-${receiveCount}`,
    body: JSON.stringify({ kind: 'run.step', run_id: 'run_1', step: 1, auth }),
    attributes: { ApproximateReceiveCount: String(receiveCount) },
  } as unknown as SQSRecord;
}

/** The step worker over `engine`, with 3 attempts a step and 5 receives a message. */
function workerOver(
  engine: StepEngine,
  options: Pick<Parameters<typeof createStepWorkerHandler>[0], 'redeliverAfter'>,
) {
  return createStepWorkerHandler({
    engine,
    telemetry: createTelemetry('agent-orchestrator'),
    maxAttempts: 3,
    maxReceives: 5,
    ...options,
  });
}

/** A worker whose engine always throws (or answers `outcome`), recording what the worker did about it. */
function failingWorker(outcome?: StepOutcome, abandonFails = false) {
  const seen = {
    backoffs: [] as number[],
    delays: [] as (number | undefined)[],
    abandoned: [] as { runId: string; attempts: number; error: unknown }[],
    resent: [] as { runId: string; step: number }[],
  };
  const engine = {
    execute: () =>
      outcome === undefined
        ? Promise.reject(new DependencyUnavailableError('ledger down'))
        : Promise.resolve(outcome),
    expire: () => Promise.reject(new Error('not used')),
    abandon: async (_auth: unknown, runId: string, attempts: number, error: unknown) => {
      seen.abandoned.push({ runId, attempts, error });
      if (abandonFails) throw new DependencyUnavailableError('table down');
    },
    resend: async (_auth: unknown, runId: string, step: number) => {
      seen.resent.push({ runId, step });
    },
  } as unknown as StepEngine;
  const handler = workerOver(engine, {
    redeliverAfter: async (_receipt, attempt, seconds) => {
      seen.backoffs.push(attempt);
      seen.delays.push(seconds);
    },
  });
  const run = (receiveCount: number) =>
    handler({ Records: [record(receiveCount)] } as SQSEvent, { functionName: 'w' } as Context);
  return { run, seen };
}

describe('the SQS step worker', () => {
  it('retries a step that threw after a growing backoff, not the full visibility timeout', async () => {
    const { run, seen } = failingWorker();
    const answer = await run(1);
    await run(2);
    expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-1' }] });
    expect(seen.backoffs).toEqual([1, 2]);
    expect(seen.abandoned).toEqual([]);
  });

  it('fails the run with the reason on the last delivery before the dead-letter queue', async () => {
    const { run, seen } = failingWorker();
    await run(5);
    expect(seen.backoffs).toEqual([]);
    expect(seen.abandoned).toEqual([
      { runId: 'run_1', attempts: 5, error: expect.objectContaining({ code: 'dependency_unavailable' }) },
    ]);
  });

  it('redelivers after the delay the engine asks for, such as a model call lease running out', async () => {
    const { run, seen } = failingWorker({
      status: 'retry',
      reason: 'request_in_progress',
      retryAfterSeconds: 75,
    });
    const answer = await run(2);
    expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-2' }] });
    expect(seen.delays).toEqual([75]);
    expect(seen.abandoned).toEqual([]);
  });

  it('fails the run instead of leaving a still-waiting step to the dead-letter queue', async () => {
    const { run, seen } = failingWorker({
      status: 'retry',
      reason: 'request_in_progress',
      retryAfterSeconds: 75,
    });
    const answer = await run(5);
    expect(answer).toEqual({ batchItemFailures: [] });
    expect(seen.delays).toEqual([]);
    expect(seen.abandoned).toEqual([
      {
        runId: 'run_1',
        attempts: 5,
        error: expect.objectContaining({ message: expect.stringContaining('request_in_progress') }),
      },
    ]);
  });

  it('keeps the last delivery for the dead-letter queue when the run cannot be failed either', async () => {
    const { run, seen } = failingWorker(
      { status: 'retry', reason: 'request_in_progress', retryAfterSeconds: 75 },
      true,
    );
    expect(await run(5)).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-5' }] });
    expect(seen.abandoned).toHaveLength(1);
  });

  it('redelivers a step that waits for a run slot after the wait without counting it as failed', async () => {
    const { run, seen } = failingWorker({
      status: 'retry',
      reason: 'waiting_for_run_slot',
      retryAfterSeconds: 5,
      waitsForSlot: true,
    });
    expect(await run(4)).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-4' }] });
    expect(seen.delays).toEqual([5]);
    expect(seen.abandoned).toEqual([]);
  });

  it('sends a step still waiting for a run slot afresh on the last delivery instead of failing the run', async () => {
    const { run, seen } = failingWorker({
      status: 'retry',
      reason: 'waiting_for_node_capacity',
      retryAfterSeconds: 5,
      waitsForSlot: true,
    });
    expect(await run(5)).toEqual({ batchItemFailures: [] });
    expect(seen.resent).toEqual([{ runId: 'run_1', step: 1 }]);
    expect(seen.abandoned).toEqual([]);
  });
});

describe('the SQS step worker, chaining steps', () => {
  /** A worker whose engine answers the scripted outcomes in turn, recording each delivery it got. */
  function chainingWorker(outcomes: (StepOutcome | Error)[], options: { resendFails?: boolean } = {}) {
    const deliveries: StepDelivery[] = [];
    const backoffs: number[] = [];
    const resent: { step: number; delaySeconds?: number; triedBefore?: number }[] = [];
    const abandoned: number[] = [];
    const engine = {
      execute: async (_auth: unknown, delivery: StepDelivery) => {
        deliveries.push(delivery);
        const next = outcomes.shift();
        if (next === undefined) throw new Error('no outcome scripted');
        if (next instanceof Error) throw next;
        return next;
      },
      resend: async (
        _auth: unknown,
        _runId: string,
        step: number,
        how: { delaySeconds?: number; triedBefore?: number },
      ) => {
        if (options.resendFails === true) throw new DependencyUnavailableError('queue down');
        resent.push({ step, ...how });
      },
      abandon: async (_auth: unknown, _runId: string, attempts: number) => {
        abandoned.push(attempts);
      },
    } as unknown as StepEngine;
    const handler = workerOver(engine, {
      redeliverAfter: async (_receipt, attempt) => void backoffs.push(attempt),
    });
    const runRecord = (one: SQSRecord, context: Partial<Context>) =>
      handler({ Records: [one] } as SQSEvent, { functionName: 'w', ...context } as Context);
    const run = (receiveCount: number, context: Partial<Context>) => runRecord(record(receiveCount), context);
    return { run, runRecord, deliveries, backoffs, resent, abandoned };
  }
  const chained = (step: number): StepOutcome => ({
    status: 'done',
    reason: 'step completed',
    continuation: { kind: 'next', step, waitSeconds: 0 },
    chained: true,
  });
  const withTime = { getRemainingTimeInMillis: () => 150_000 };

  it('runs each chained step under the same record and acknowledges it once the chain ends', async () => {
    const { run, deliveries, backoffs } = chainingWorker([
      chained(2),
      chained(3),
      { status: 'done', reason: 'step completed', continuation: { kind: 'end' } },
    ]);
    expect(await run(1, withTime)).toEqual({ batchItemFailures: [] });
    expect(deliveries.map(({ step, attempt, carrier }) => ({ step, attempt, carrier }))).toEqual([
      { step: 1, attempt: 1, carrier: 1 },
      { step: 2, attempt: 1, carrier: 1 },
      { step: 3, attempt: 1, carrier: 1 },
    ]);
    expect(new Set(deliveries.map((delivery) => delivery.deadlineMs)).size).toBe(1);
    expect(backoffs).toEqual([]);
  });

  it('hands a chained step that must be tried again to the queue as a message of its own and ends the record', async () => {
    const { run, deliveries, backoffs, resent } = chainingWorker([
      chained(2),
      { status: 'retry', reason: 'dependency_unavailable', retryAfterSeconds: 1 },
    ]);
    expect(await run(2, withTime)).toEqual({ batchItemFailures: [] });
    expect(deliveries.map(({ step, attempt }) => ({ step, attempt }))).toEqual([
      { step: 1, attempt: 2 },
      { step: 2, attempt: 1 },
    ]);
    expect(resent).toEqual([{ step: 2, delaySeconds: 1, triedBefore: 1, carrier: 1 }]);
    expect(backoffs).toEqual([]);
  });

  it('hands a chained step that waits for a slot on without counting a try, and never gives its run up', async () => {
    const waiting: StepOutcome = {
      status: 'retry',
      reason: 'waiting_for_run_slot',
      retryAfterSeconds: 7,
      waitsForSlot: true,
    };
    const handedOn = chainingWorker([chained(2), waiting]);
    expect(await handedOn.run(1, withTime)).toEqual({ batchItemFailures: [] });
    expect(handedOn.resent).toEqual([{ step: 2, delaySeconds: 7, triedBefore: 0, carrier: 1 }]);
    const unsent = chainingWorker([chained(2), waiting], { resendFails: true });
    expect(await unsent.run(5, withTime)).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-5' }] });
    expect(unsent.abandoned).toEqual([]);
    expect(unsent.backoffs).toEqual([5]);
  });

  it('hands a chained step that threw to the queue, and on the record’s last delivery gives no run up', async () => {
    const { run, resent, abandoned } = chainingWorker([
      chained(2),
      new DependencyUnavailableError('ledger down'),
    ]);
    expect(await run(5, withTime)).toEqual({ batchItemFailures: [] });
    expect(resent).toEqual([{ step: 2, delaySeconds: chainedRetrySeconds, triedBefore: 1, carrier: 1 }]);
    expect(abandoned).toEqual([]);
  });

  it.each([
    [1, { backoffs: [1], abandoned: [] }],
    [5, { backoffs: [], abandoned: [5] }],
  ])(
    'brings the record back (delivery %i) when the chained step cannot be handed to the queue, and fails the run on its last',
    async (receiveCount, expected) => {
      const { run, backoffs, abandoned } = chainingWorker(
        [chained(2), { status: 'retry', reason: 'request_in_progress', retryAfterSeconds: 5 }],
        { resendFails: true },
      );
      expect(await run(receiveCount, withTime)).toEqual({
        batchItemFailures: [{ itemIdentifier: `m-${receiveCount}` }],
      });
      expect({ backoffs, abandoned }).toEqual(expected);
    },
  );

  it('counts the tries a handed-on step had before its own message', async () => {
    const { runRecord, deliveries } = chainingWorker([
      { status: 'done', reason: 'step completed', continuation: { kind: 'end' } },
    ]);
    // Its second delivery, after one try in the chain that handed it on.
    const handedOn = {
      ...record(2),
      body: JSON.stringify({ kind: 'run.step', run_id: 'run_1', step: 4, auth, attempt: 1 }),
    } as SQSRecord;
    await runRecord(handedOn, withTime);
    expect(deliveries.map(({ step, attempt }) => ({ step, attempt }))).toEqual([{ step: 4, attempt: 3 }]);
  });

  it('names no carrier when the invocation does not say how long it has left', async () => {
    const { run, deliveries } = chainingWorker([
      { status: 'done', reason: 'step completed', continuation: { kind: 'next', step: 2, waitSeconds: 0 } },
    ]);
    expect(await run(1, {})).toEqual({ batchItemFailures: [] });
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]?.carrier).toBeUndefined();
  });
});

describe('the step worker trace annotations', () => {
  const message = (tenantId: string, runId: string): SQSRecord =>
    ({
      body: JSON.stringify({
        kind: 'run.step',
        run_id: runId,
        step: 1,
        auth: { ...auth, tenant_id: tenantId },
      }),
      messageAttributes: { tenant_id: { stringValue: tenantId, dataType: 'String' } },
    }) as unknown as SQSRecord;

  function annotations(records: SQSRecord[]): Record<string, string> {
    const put: Record<string, string> = {};
    annotateBatch(
      { putAnnotation: (key: string, value: unknown) => void (put[key] = String(value)) },
      records,
    );
    return put;
  }

  it('returns the tenant and run annotations of a batch of one run', () => {
    expect(annotations([message('acme', 'run_1'), message('acme', 'run_1')])).toEqual({
      tenant_id: 'acme',
      run_id: 'run_1',
    });
  });

  it('returns only what every record shares when a batch holds several runs or tenants', () => {
    expect(annotations([message('acme', 'run_1'), message('acme', 'run_2')])).toEqual({ tenant_id: 'acme' });
    expect(annotations([message('acme', 'run_1'), message('globex', 'run_2')])).toEqual({});
  });
});
