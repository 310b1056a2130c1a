import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { InMemoryAgentRegistry } from '../../../functions/orchestrator/adapters/in-memory/in-memory-agent-registry.ts';
import { InMemoryRunDriver } from '../../../functions/orchestrator/adapters/in-memory/in-memory-run-driver.ts';
import { InMemoryRunStateStore } from '../../../functions/orchestrator/adapters/in-memory/in-memory-run-state.ts';
import { InMemoryStepQueue } from '../../../functions/orchestrator/adapters/in-memory/in-memory-step-queue.ts';
import { createStepWorkerHandler } from '../../../functions/orchestrator/adapters/sqs/sqs-step-worker.ts';
import type { RunStatePort } from '../../../functions/orchestrator/ports/run-state-port.ts';
import { newRunId } from '../../../functions/orchestrator/runtime/run-id.ts';
import { createRunService } from '../../../functions/orchestrator/runtime/run-service.ts';
import { createRunStopper } from '../../../functions/orchestrator/runtime/run-stopper.ts';
import type { StopAuditRecord } from '../../../functions/orchestrator/runtime/run-stopper.ts';
import type { StepEngine } from '../../../functions/orchestrator/runtime/step-engine.ts';
import type { AuthContext } from '../../../functions/shared/auth/auth-context.ts';
import { DependencyUnavailableError } from '../../../functions/shared/errors/agentos-error.ts';
import { createTelemetry } from '../../../functions/shared/observability/telemetry.ts';
import { agentDefinition } from '../../support/agent-definitions.ts';

const member = (tenantId: string): AuthContext => ({
  tenant_id: tenantId,
  principal: { id: 'alice', type: 'user' },
  scopes: ['runs:read', 'runs:write'],
  policy_context: {},
});
const operator: AuthContext = {
  tenant_id: 'operator',
  principal: { id: 'ops', type: 'user' },
  scopes: ['operator'],
  policy_context: {},
};

/**
 * A node whose stop of every run stops `pageSize` runs per call and hands the rest to a step queue;
 * a commit of a run named in `failing` fails as if storage were unavailable for it.
 */
async function node(pageSize: number, peerDown = false) {
  let tick = Date.parse('2026-02-01T00:00:00.000Z');
  const now = () => new Date((tick += 1000));
  const store = new InMemoryRunStateStore({ now });
  const failing = new Set<string>();
  const runs = new Proxy(store, {
    get(target, property) {
      if (property === 'commit') {
        return (async (auth, runId, change) => {
          if (failing.has(runId)) throw new DependencyUnavailableError('The run store is unavailable');
          return target.commit(auth, runId, change);
        }) satisfies RunStatePort['commit'];
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  const agents = new InMemoryAgentRegistry();
  await agents.put(member('acme'), agentDefinition({ agent_id: 'quick', model_ref: 'local/scripted' }));
  const sink = { publish: async () => undefined };
  const failures: { what: string; context: Record<string, unknown> | undefined }[] = [];
  const reportFailure = (what: string, _error: unknown, context?: Record<string, unknown>) =>
    void failures.push({ what, context });
  const service = createRunService({
    runs: store,
    queue: new InMemoryStepQueue(),
    driver: new InMemoryRunDriver(),
    agents,
    sink,
    reportFailure,
    now,
    newRunId: () => newRunId(),
    idempotencyTtlSeconds: 86_400,
  });
  const audits: StopAuditRecord[] = [];
  const stops = new InMemoryStepQueue();
  const peerCancels: string[] = [];
  const stopper = createRunStopper({
    runs,
    sink,
    reportFailure,
    now,
    cancelForwarded: async (_auth, run) => {
      if (peerDown)
        throw new DependencyUnavailableError('Peer west-1 could not be reached to cancel the run');
      peerCancels.push(`${run.federation?.node_id}/${run.federation?.remote_run_id}`);
    },
    audit: (_message, record) => void audits.push(record),
    continuation: stops,
    pageSize,
  });
  const start = async (running = false) => {
    const { run } = await service.createRun(
      member('acme'),
      { agent_id: 'quick', input: { messages: [{ role: 'user', content: 'hi' }] } },
      undefined,
    );
    if (running)
      await store.commit(member('acme'), run.run_id, {
        requireStatus: ['queued'],
        status: 'running',
        changes: { started_at: now().toISOString() },
        events: [],
      });
    return run.run_id;
  };
  /** Delivers the queued stop tasks to the step worker until none remain; the records it failed. */
  const drain = async (): Promise<string[]> => {
    const worker = createStepWorkerHandler({
      engine: {} as StepEngine,
      telemetry: createTelemetry('agent-orchestrator'),
      maxAttempts: 3,
      maxReceives: 5,
      redeliverAfter: async () => undefined,
      reportFailure,
      stopper,
    });
    const failed: string[] = [];
    let delivered = 0;
    for (let tasks = stops.takeRunStops(); tasks.length > 0; tasks = stops.takeRunStops()) {
      for (const task of tasks) {
        delivered += 1;
        const record = {
          messageId: `m-${delivered}`,
          receiptHandle: `r-${delivered}`,
          body: JSON.stringify(task),
          attributes: { ApproximateReceiveCount: '1' },
        } as unknown as SQSRecord;
        const answer = await worker({ Records: [record] } as SQSEvent, { functionName: 'w' } as Context);
        failed.push(...(answer?.batchItemFailures ?? []).map((item) => item.itemIdentifier));
      }
    }
    return failed;
  };
  /** Marks a run as forwarded to west-1, where it runs as `remote`. */
  const forward = async (runId: string, remote: string) => {
    await store.commit(member('acme'), runId, {
      requireStatus: ['queued', 'running'],
      changes: {
        federation: {
          origin_node_id: 'east-1',
          node_id: 'west-1',
          remote_run_id: remote,
          remote_events_url: null,
        },
      },
      events: [],
    });
  };
  return { runs: store, stopper, failing, failures, audits, start, drain, forward, peerCancels };
}

describe('a stop of every run in the background', () => {
  it('returns every other run stopped when one run cannot be stopped, and audits and reports that one as failed', async () => {
    const { runs, stopper, failing, failures, audits, start, drain } = await node(2);
    const ids: string[] = [];
    for (let i = 0; i < 6; i += 1) ids.push(await start(i >= 3));
    // Listed newest first: the oldest queued run is on the second page, handled by the step worker.
    const stubborn = ids[0]!;
    failing.add(stubborn);

    const outcome = await stopper.stop(operator, 'acme', { all: true }, 'runaway');
    expect(outcome).toMatchObject({ continuing: true, failed: [] });
    expect(await drain()).toEqual([]);

    for (const runId of ids.filter((id) => id !== stubborn))
      expect(await runs.getRun(member('acme'), runId)).toMatchObject({ status: 'canceled' });
    expect(await runs.getRun(member('acme'), stubborn)).toMatchObject({ status: 'queued' });
    expect(audits.flatMap((audit) => audit.failed)).toEqual([stubborn]);
    expect(failures).toEqual([{ what: 'run not stopped', context: { tenant_id: 'acme', run_id: stubborn } }]);
  });

  it('throws when a named run cannot be stopped, after stopping and auditing the others', async () => {
    const { runs, stopper, failing, audits, start } = await node(2);
    const [stubborn, other] = [await start(), await start()];
    failing.add(stubborn);
    await expect(stopper.stop(operator, 'acme', { runIds: [stubborn, other] }, 'runaway')).rejects.toThrow(
      DependencyUnavailableError,
    );
    expect(await runs.getRun(member('acme'), other)).toMatchObject({ status: 'canceled' });
    expect(audits).toMatchObject([{ stopped: [other], failed: [stubborn] }]);
  });

  it('leaves queued and running runs created after the stop was asked', async () => {
    const { runs, stopper, start, drain } = await node(2);
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push(await start(i >= 3));
    const outcome = await stopper.stop(operator, 'acme', { all: true }, 'unpaid invoice');
    expect(outcome.continuing).toBe(true);
    // The tenant is enabled again and starts new runs before the background stop goes on.
    const later = [await start(), await start(true)];

    expect(await drain()).toEqual([]);
    for (const runId of ids)
      expect(await runs.getRun(member('acme'), runId)).toMatchObject({ status: 'canceled' });
    expect(await runs.getRun(member('acme'), later[0]!)).toMatchObject({ status: 'queued' });
    expect(await runs.getRun(member('acme'), later[1]!)).toMatchObject({ status: 'running' });
  });

  it('cancels on their peer the stopped runs that run there, and only those', async () => {
    const { stopper, start, forward, peerCancels } = await node(10);
    const [local, forwarded] = [await start(true), await start(true)];
    await forward(forwarded, 'run_remote');
    const outcome = await stopper.stop(operator, 'acme', { all: true }, 'runaway');
    expect(outcome.stopped.sort()).toEqual([local, forwarded].sort());
    expect(peerCancels).toEqual(['west-1/run_remote']);
  });

  it('returns the forwarded run stopped here, and reports it, when its peer cannot be reached', async () => {
    const { runs, stopper, start, forward, failures } = await node(10, true);
    const forwarded = await start(true);
    await forward(forwarded, 'run_remote');
    expect(await stopper.stop(operator, 'acme', { runIds: [forwarded] }, 'runaway')).toMatchObject({
      stopped: [forwarded],
      failed: [],
    });
    expect(await runs.getRun(member('acme'), forwarded)).toMatchObject({ status: 'canceled' });
    expect(failures).toEqual([
      { what: 'stopped run not canceled on its peer', context: { run_id: forwarded } },
    ]);
  });
});
