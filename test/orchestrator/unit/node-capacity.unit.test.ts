import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { capacityRoutes } from '../../../functions/orchestrator/api/capacity-api.ts';
import { capacityHandlers } from '../../../functions/orchestrator/api/capacity-handlers.ts';
import { createStepWorkerHandler } from '../../../functions/orchestrator/adapters/sqs/sqs-step-worker.ts';
import { runSlotPools } from '../../../functions/orchestrator/runtime/run-slots.ts';
import type { StepEngine } from '../../../functions/orchestrator/runtime/step-engine.ts';
import { bindRoutes } from '../../../functions/shared/http/bound-route.ts';
import { InMemorySlotPool } from '../../../functions/shared/limits/adapters/in-memory-limits.ts';
import { createTelemetry } from '../../../functions/shared/observability/telemetry.ts';
import { adminHttpCore } from '../../support/admin-http.ts';

/** The capacity route behind the real HTTP core, over an in-memory slot pool and a fixed queue depth. */
async function capacityApp() {
  const { auth, appOf } = await adminHttpCore();
  const pool = new InMemorySlotPool();
  const app = appOf(
    bindRoutes(capacityRoutes, {
      ...capacityHandlers({
        pool,
        nodeMaxConcurrentRuns: 3,
        nodeCapacityMode: 'queue',
        queueDepth: async () => ({ visible: 5, in_flight: 2, delayed: 1 }),
        stepAge: { oldest: async () => ({ maxAgeMs: 4_200, windowSeconds: 60 }) },
        now: () => new Date('2026-03-02T09:15:00Z'),
        operatorTenantId: 'operator',
      }),
    }),
  );
  const get = async (token: string) => {
    const response = await app.fetch(
      new Request('http://node.test/v1/admin/capacity', { headers: { authorization: `Bearer ${token}` } }),
    );
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  return { auth, pool, get };
}

describe('the node capacity report', () => {
  it('shows an operator the node’s run slots in use, its capacity and mode, the step queue’s depth and oldest step age', async () => {
    const { auth, pool, get } = await capacityApp();
    await pool.acquire(runSlotPools.nodeRunning(), 'run_a', 3, 60);
    await pool.acquire(runSlotPools.nodeRunning(), 'run_b', 3, 60);
    const operator = await auth.token('operator', { subject: 'ops', scopes: ['operator'] });
    expect(await get(operator)).toEqual({
      status: 200,
      body: {
        object: 'node_capacity',
        run_slots: { in_use: 2, capacity: 3, mode: 'queue' },
        step_queue: {
          visible: 5,
          in_flight: 2,
          delayed: 1,
          oldest_message_age_ms: 4_200,
          age_window_seconds: 60,
        },
        measured_at: '2026-03-02T09:15:00.000Z',
      },
    });
  });

  it('is refused to a tenant’s member, even one holding the operator scope', async () => {
    const { auth, get } = await capacityApp();
    expect((await get(await auth.token('acme'))).status).toBe(403);
    expect((await get(await auth.token('acme', { scopes: ['operator'] }))).status).toBe(403);
  });
});

describe('the step worker', () => {
  it('logs how long each step message waited on the queue, counts it without a tenant dimension and notes it for the report', async () => {
    const telemetry = createTelemetry('agent-orchestrator');
    const info = vi.spyOn(telemetry.logger, 'info');
    const addMetric = vi.spyOn(telemetry.metrics, 'addMetric');
    const addDimension = vi.spyOn(telemetry.metrics, 'addDimension');
    const engine = {
      execute: async () => ({ status: 'done', reason: 'step completed' }),
    } as unknown as StepEngine;
    const noted: number[] = [];
    const handler = createStepWorkerHandler({
      engine,
      telemetry,
      maxAttempts: 3,
      maxReceives: 5,
      redeliverAfter: async () => undefined,
      stepAge: { record: async (ageMs) => void noted.push(ageMs) },
    });
    const sentAt = Date.now() - 4_000;
    const record = {
      messageId: 'm-1',
      receiptHandle: 'r-1',
      body: JSON.stringify({
        kind: 'run.step',
        run_id: 'run_1',
        step: 1,
        auth: { tenant_id: 'acme', principal: { id: 'u', type: 'user' }, scopes: [], policy_context: {} },
      }),
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(sentAt) },
    } as unknown as SQSRecord;
    await handler({ Records: [record] } as SQSEvent, { functionName: 'w' } as Context);
    const processed = info.mock.calls.find(([message]) => message === 'task processed');
    const age = (processed?.[1] as { message_age_ms?: number } | undefined)?.message_age_ms;
    expect(age).toBeGreaterThanOrEqual(4_000);
    expect(age).toBeLessThan(60_000);
    const metric = addMetric.mock.calls.find(([name]) => name === 'StepMessageAgeMs');
    expect(metric?.[2]).toBe(age);
    expect(addDimension).not.toHaveBeenCalled();
    expect(noted).toEqual([age]);
  });
});
