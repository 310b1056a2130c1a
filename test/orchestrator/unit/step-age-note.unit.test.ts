import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createStepWorkerHandler } from '../../../functions/orchestrator/adapters/sqs/sqs-step-worker.ts';
import type { StepAgePort } from '../../../functions/orchestrator/ports/step-age-port.ts';
import type { StepEngine } from '../../../functions/orchestrator/runtime/step-engine.ts';
import { createTelemetry } from '../../../functions/shared/observability/telemetry.ts';

const auth = { tenant_id: 'acme', principal: { id: 'u', type: 'user' }, scopes: [], policy_context: {} };
let sent = 0;

/** A step queue record of `kind`, sent `ageMs` ago and received for the `receiveCount`th time. */
function record(ageMs: number, receiveCount = 1, kind: 'run.step' | 'run.deadline' = 'run.step'): SQSRecord {
  sent += 1;
  return {
    messageId: `m-${sent}`,
    receiptHandle: `r-${sent}`,
    body: JSON.stringify(
      kind === 'run.step' ? { kind, run_id: 'run_1', step: 1, auth } : { kind, run_id: 'run_1', auth },
    ),
    attributes: { ApproximateReceiveCount: String(receiveCount), SentTimestamp: String(Date.now() - ageMs) },
  } as unknown as SQSRecord;
}

function worker(stepAge: Pick<StepAgePort, 'record'>, failures: string[] = []) {
  const handler = createStepWorkerHandler({
    engine: {
      execute: async () => ({ status: 'done', reason: 'step completed' }),
      expire: async () => ({ status: 'done', reason: 'deadline passed' }),
    } as unknown as StepEngine,
    telemetry: createTelemetry('agent-orchestrator'),
    maxAttempts: 3,
    maxReceives: 5,
    redeliverAfter: async () => undefined,
    reportFailure: (what) => void failures.push(what),
    stepAge,
  });
  return (...records: SQSRecord[]) =>
    handler({ Records: records } as SQSEvent, { functionName: 'w' } as Context);
}

describe('the step age the capacity report reads', () => {
  it('notes only first receives of run steps, not redeliveries that include planned waits', async () => {
    const noted: number[] = [];
    const deliver = worker({ record: async (ageMs) => void noted.push(ageMs) });
    await deliver(record(4_000), record(60_000, 3), record(50_000, 1, 'run.deadline'));
    expect(noted).toHaveLength(1);
    expect(noted[0]).toBeGreaterThanOrEqual(4_000);
    expect(noted[0]).toBeLessThan(50_000);
  });

  it('notes no step a chain handed on for later, whether it waited or was to be tried again', async () => {
    const noted: number[] = [];
    const deliver = worker({ record: async (ageMs) => void noted.push(ageMs) });
    const handedOn = (attempt: number) => {
      const one = record(30_000);
      return { ...one, body: JSON.stringify({ kind: 'run.step', run_id: 'run_1', step: 2, auth, attempt }) };
    };
    await deliver(handedOn(0), handedOn(1));
    expect(noted).toEqual([]);
    await deliver(record(2_000));
    expect(noted).toHaveLength(1);
  });

  it('returns the step answer while the note is still being written', async () => {
    let release: () => void = () => undefined;
    const pending = new Promise<void>((resolve) => (release = resolve));
    const deliver = worker({ record: () => pending });
    expect(await deliver(record(1_000))).toEqual({ batchItemFailures: [] });
    release();
  });

  it('reports a note that could not be written, and the step still succeeds', async () => {
    const failures: string[] = [];
    const deliver = worker({ record: async () => Promise.reject(new Error('table unavailable')) }, failures);
    expect(await deliver(record(1_000))).toEqual({ batchItemFailures: [] });
    await new Promise((resolve) => setImmediate(resolve));
    expect(failures).toEqual(['step message age not recorded']);
  });

  it('notes a process’s ages at most once in a while, unless one is much older than the last noted', async () => {
    const noted: number[] = [];
    const deliver = worker({ record: async (ageMs) => void noted.push(ageMs) });
    await deliver(record(4_000));
    await deliver(record(3_000));
    await deliver(record(4_500));
    await deliver(record(30_000));
    expect(noted).toHaveLength(2);
    expect(noted[1]).toBeGreaterThanOrEqual(30_000);
  });
});
