import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createStepWorkerHandler } from '../../../functions/orchestrator/adapters/sqs/sqs-step-worker.ts';
import type { StepEngine } from '../../../functions/orchestrator/runtime/step-engine.ts';
import { createTelemetry } from '../../../functions/shared/observability/telemetry.ts';
import { InMemoryAgentRegistry } from '../../../functions/orchestrator/adapters/in-memory/in-memory-agent-registry.ts';
import { InMemoryRunDriver } from '../../../functions/orchestrator/adapters/in-memory/in-memory-run-driver.ts';
import { InMemoryRunStateStore } from '../../../functions/orchestrator/adapters/in-memory/in-memory-run-state.ts';
import { InMemoryStepQueue } from '../../../functions/orchestrator/adapters/in-memory/in-memory-step-queue.ts';
import { tenantAdminHandlers } from '../../../functions/orchestrator/api/tenant-admin-handlers.ts';
import { newRunId } from '../../../functions/orchestrator/runtime/run-id.ts';
import { createRunService } from '../../../functions/orchestrator/runtime/run-service.ts';
import { createRunStopper } from '../../../functions/orchestrator/runtime/run-stopper.ts';
import type { RunStopper, StopAuditRecord } from '../../../functions/orchestrator/runtime/run-stopper.ts';
import type { AuthContext } from '../../../functions/shared/auth/auth-context.ts';
import { InMemoryTenantDirectory } from '../../../functions/shared/tenancy/adapters/in-memory-tenant-directory.ts';
import { agentDefinition } from '../../support/agent-definitions.ts';
import { admissionOver } from '../../support/recording-admission.ts';
import { routeInput as input } from '../../support/route-input.ts';

const member = (tenantId: string, id = 'alice'): AuthContext => ({
  tenant_id: tenantId,
  principal: { id, type: 'user' },
  scopes: ['runs:read', 'runs:write'],
  policy_context: {},
});
const operator: AuthContext = {
  tenant_id: 'operator',
  principal: { id: 'ops', type: 'user' },
  scopes: ['operator'],
  policy_context: {},
};
const body = (agentId: string) => ({
  agent_id: agentId,
  input: { messages: [{ role: 'user' as const, content: 'hi' }] },
});

/**
 * The node's operator API over in-memory adapters; with `pageSize`, a stop of every run stops that
 * many per call and hands the rest to `stops`, a step queue the step worker drains.
 */
async function node(options: { pageSize?: number } = {}) {
  let tick = Date.parse('2026-02-01T00:00:00.000Z');
  const now = () => new Date((tick += 1000));
  const runs = new InMemoryRunStateStore({ now });
  const agents = new InMemoryAgentRegistry();
  const driver = new InMemoryRunDriver();
  const published: { type: string; data: unknown }[] = [];
  const sink = {
    publish: async (_auth: AuthContext, events: readonly { type: string; data: unknown }[]) => {
      published.push(...events.map(({ type, data }) => ({ type, data })));
    },
  };
  const failures: string[] = [];
  const reportFailure = (what: string) => failures.push(what);
  for (const tenantId of ['acme', 'globex']) {
    await agents.put(
      member(tenantId, 'admin'),
      agentDefinition({ agent_id: 'quick', model_ref: 'local/scripted' }),
    );
    await agents.put(
      member(tenantId, 'admin'),
      agentDefinition({ agent_id: 'slow', model_ref: 'local/scripted', run_mode: 'long' }),
    );
  }
  const service = createRunService({
    runs,
    queue: new InMemoryStepQueue(),
    driver,
    agents,
    sink,
    reportFailure,
    now,
    newRunId: () => newRunId(),
    idempotencyTtlSeconds: 86_400,
  });
  const released: string[] = [];
  const audits: StopAuditRecord[] = [];
  const stops = new InMemoryStepQueue();
  const stopper = createRunStopper({
    ...(options.pageSize === undefined ? {} : { pageSize: options.pageSize, continuation: stops }),
    runs,
    driver,
    sink,
    reportFailure,
    now,
    onStopped: async (tenantId, runId) => {
      released.push(`${tenantId}/${runId}`);
    },
    audit: (_message, record) => audits.push(record),
  });
  const directory = new InMemoryTenantDirectory();
  const admission = admissionOver(directory);
  const handlers = tenantAdminHandlers({
    directory,
    admission,
    runs,
    stopper,
    now,
    operatorTenantId: 'operator',
  });
  const start = async (tenantId: string, agentId: string, running = false) => {
    const { run } = await service.createRun(member(tenantId), body(agentId), undefined);
    if (running)
      await runs.commit(member(tenantId), run.run_id, {
        requireStatus: ['queued'],
        status: 'running',
        changes: { started_at: now().toISOString() },
        events: [],
      });
    return run.run_id;
  };
  return {
    runs,
    driver,
    service,
    stopper,
    directory,
    admission,
    handlers,
    start,
    stops,
    published,
    released,
    audits,
    failures,
  };
}

describe('the run stopper', () => {
  it('ends queued and running runs canceled with the reason, stops long executions, releases and audits', async () => {
    const { stopper, runs, driver, start, published, released, audits, failures } = await node();
    const queued = await start('acme', 'quick');
    const running = await start('acme', 'slow', true);
    const outcome = await stopper.stop(operator, 'acme', { runIds: [queued, running] }, 'runaway loop');

    expect(outcome).toEqual({
      stopped: [queued, running],
      continuing: false,
      alreadyOver: [],
      notFound: [],
      failed: [],
    });
    for (const runId of [queued, running]) {
      const run = await runs.getRun(member('acme'), runId);
      expect(run).toMatchObject({ status: 'canceled' });
      const events = await runs.listEvents(member('acme'), runId, { after: 0, limit: 10 });
      expect(events.at(-1)).toMatchObject({
        type: 'run.canceled',
        data: { status: 'canceled', reason: 'runaway loop' },
      });
    }
    expect(published.filter((event) => event.type === 'run.canceled')).toHaveLength(2);
    expect(driver.executions()).toMatchObject([
      { status: 'ABORTED', stopReason: 'canceled by operator: runaway loop' },
    ]);
    expect(released).toEqual([`acme/${queued}`, `acme/${running}`]);
    expect(audits).toEqual([
      {
        operator: { tenant_id: 'operator', principal_id: 'ops' },
        tenant_id: 'acme',
        reason: 'runaway loop',
        stopped: [queued, running],
        already_over: [],
        not_found: [],
        failed: [],
      },
    ]);
    expect(failures).toEqual([]);
  });

  it('leaves runs already over unchanged, names unknown ones, and never touches another tenant', async () => {
    const { stopper, service, runs, start, released } = await node();
    const done = await start('acme', 'quick');
    await service.cancelRun(member('acme'), done);
    const others = await start('globex', 'quick');
    const outcome = await stopper.stop(operator, 'acme', { runIds: [done, others] }, 'cleanup');
    expect(outcome).toEqual({
      stopped: [],
      continuing: false,
      alreadyOver: [{ runId: done, status: 'canceled' }],
      notFound: [others],
      failed: [],
    });
    expect(await runs.getRun(member('globex'), others)).toMatchObject({ status: 'queued' });
    expect(released).toEqual([]);
  });

  it('stops every unfinished run of the tenant with all', async () => {
    const { stopper, runs, start } = await node();
    const ids = [
      await start('acme', 'quick'),
      await start('acme', 'quick', true),
      await start('acme', 'slow'),
    ];
    const globex = await start('globex', 'quick');
    const outcome = await stopper.stop(operator, 'acme', { all: true }, 'tenant over budget');
    expect([...outcome.stopped].sort()).toEqual([...ids].sort());
    expect(await runs.getRun(member('globex'), globex)).toMatchObject({ status: 'queued' });
    const again = await stopper.stop(operator, 'acme', { all: true }, 'tenant over budget');
    expect(again.stopped).toEqual([]);
  });
});

/** Runs the queued stop tasks through the SQS step worker, as the queue would deliver them; how many ran. */
async function drainStops(stops: InMemoryStepQueue, stopper: RunStopper): Promise<number> {
  const worker = createStepWorkerHandler({
    engine: {} as StepEngine,
    telemetry: createTelemetry('agent-orchestrator'),
    maxAttempts: 3,
    maxReceives: 5,
    redeliverAfter: async () => undefined,
    stopper,
  });
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
      expect(answer).toEqual({ batchItemFailures: [] });
    }
  }
  return delivered;
}

describe('stopping more runs than one request stops', () => {
  it('returns a page stopped and continues_in_background, then the step worker stops the rest page by page', async () => {
    const { handlers, stopper, runs, start, stops, audits } = await node({ pageSize: 3 });
    await handlers.createTenant(input(operator, { body: { tenant_id: 'acme' } }) as never);
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push(await start('acme', 'quick'));
    for (let i = 0; i < 3; i += 1) ids.push(await start('acme', 'quick', true));
    const globex = await start('globex', 'quick');

    const answer = (await handlers.stopTenantRuns(
      input(operator, { params: { tenant_id: 'acme' }, body: { all: true, reason: 'runaway' } }) as never,
    )) as { status: number; json: { stopped: string[]; continues_in_background: boolean } };
    expect(answer.status).toBe(200);
    expect(answer.json.stopped).toHaveLength(3);
    expect(answer.json.continues_in_background).toBe(true);

    expect(await drainStops(stops, stopper)).toBeGreaterThanOrEqual(2);
    for (const runId of ids)
      expect(await runs.getRun(member('acme'), runId)).toMatchObject({ status: 'canceled' });
    expect(await runs.getRun(member('globex'), globex)).toMatchObject({ status: 'queued' });
    const stopped = audits.flatMap((audit) => audit.stopped);
    expect([...stopped].sort()).toEqual([...ids].sort());
    expect(audits.every((audit) => audit.stopped.length <= 3)).toBe(true);
  });

  it('returns a disabled tenant with a page of runs stopped, and stops the rest in the background', async () => {
    const { handlers, stopper, runs, start, stops } = await node({ pageSize: 2 });
    await handlers.createTenant(input(operator, { body: { tenant_id: 'acme' } }) as never);
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push(await start('acme', 'quick', i % 2 === 0));
    const disabled = (await handlers.disableTenant(
      input(operator, { params: { tenant_id: 'acme' }, body: { reason: 'unpaid invoice' } }) as never,
    )) as { json: { status: string; stopped_runs: string[]; continues_in_background: boolean } };
    expect(disabled.json).toMatchObject({ status: 'disabled', continues_in_background: true });
    expect(disabled.json.stopped_runs).toHaveLength(2);
    await drainStops(stops, stopper);
    for (const runId of ids)
      expect(await runs.getRun(member('acme'), runId)).toMatchObject({ status: 'canceled' });
  });

  it('returns continues_in_background false when one page holds every run', async () => {
    const { handlers, start, stops } = await node({ pageSize: 3 });
    await handlers.createTenant(input(operator, { body: { tenant_id: 'acme' } }) as never);
    await start('acme', 'quick');
    const answer = await handlers.stopTenantRuns(
      input(operator, { params: { tenant_id: 'acme' }, body: { all: true, reason: 'runaway' } }) as never,
    );
    expect(answer).toMatchObject({ json: { continues_in_background: false } });
    expect(stops.takeRunStops()).toEqual([]);
  });
});

describe('the operator tenant API', () => {
  it('creates a tenant once, with default quotas and a link to its model policy', async () => {
    const { handlers } = await node();
    const created = await handlers.createTenant(input(operator, { body: { tenant_id: 'acme' } }) as never);
    expect(created).toMatchObject({
      status: 201,
      headers: { location: '/v1/admin/tenants/acme' },
      json: {
        tenant_id: 'acme',
        status: 'active',
        quotas: { max_concurrent_runs: 50 },
        model_policy_path: '/v1/admin/tenants/acme/model-policy',
      },
    });
    await expect(
      handlers.createTenant(input(operator, { body: { tenant_id: 'acme' } }) as never),
    ).rejects.toMatchObject({ code: 'conflict' });
  });

  it('throws when the operator scope comes from another tenant than the operator tenant', async () => {
    const { handlers } = await node();
    const impostor = { ...operator, tenant_id: 'acme' };
    await expect(handlers.listTenants(input(impostor, { query: {} }) as never)).rejects.toMatchObject({
      code: 'forbidden',
    });
  });

  it('lists tenants page by page and reads one, 404 for an unknown one', async () => {
    const { handlers } = await node();
    for (const tenantId of ['a1', 'a2', 'a3'])
      await handlers.createTenant(input(operator, { body: { tenant_id: tenantId } }) as never);
    const first = await handlers.listTenants(input(operator, { query: { limit: 2 } }) as never);
    const page = (first as { json: { data: { tenant_id: string }[]; next_cursor: string } }).json;
    expect(page.data).toHaveLength(2);
    const second = await handlers.listTenants(
      input(operator, { query: { limit: 2, cursor: page.next_cursor } }) as never,
    );
    const rest = (second as { json: { data: { tenant_id: string }[]; next_cursor: string | null } }).json;
    expect(rest.next_cursor).toBeNull();
    expect([...page.data, ...rest.data].map((tenant) => tenant.tenant_id).sort()).toEqual(['a1', 'a2', 'a3']);
    expect(await handlers.getTenant(input(operator, { params: { tenant_id: 'a2' } }) as never)).toMatchObject(
      {
        json: { tenant_id: 'a2' },
      },
    );
    await expect(
      handlers.getTenant(input(operator, { params: { tenant_id: 'nope' } }) as never),
    ).rejects.toMatchObject({ code: 'not_found' });
  });

  it('patches quotas field by field and refuses a stale expected_version', async () => {
    const { handlers, admission } = await node();
    await handlers.createTenant(input(operator, { body: { tenant_id: 'acme' } }) as never);
    const patched = await handlers.updateTenant(
      input(operator, {
        params: { tenant_id: 'acme' },
        body: { quotas: { max_concurrent_runs: 3 }, expected_version: 1 },
      }) as never,
    );
    expect(patched).toMatchObject({
      json: { version: 2, quotas: { max_concurrent_runs: 3, run_burst: 20 } },
    });
    expect(admission.forgotten).toContain('acme');
    await expect(
      handlers.updateTenant(
        input(operator, {
          params: { tenant_id: 'acme' },
          body: { display_name: 'x', expected_version: 1 },
        }) as never,
      ),
    ).rejects.toMatchObject({ code: 'conflict' });
    await expect(
      handlers.updateTenant(input(operator, { params: { tenant_id: 'nope' }, body: {} }) as never),
    ).rejects.toMatchObject({ code: 'not_found' });
  });

  it('disables a tenant: status and reason, admission forgotten, its runs canceled with the reason', async () => {
    const { handlers, admission, runs, start } = await node();
    await handlers.createTenant(input(operator, { body: { tenant_id: 'acme' } }) as never);
    const queued = await start('acme', 'quick');
    const running = await start('acme', 'slow', true);
    const disabled = await handlers.disableTenant(
      input(operator, { params: { tenant_id: 'acme' }, body: { reason: 'unpaid invoice' } }) as never,
    );
    expect(disabled).toMatchObject({
      status: 200,
      json: { status: 'disabled', disabled_reason: 'unpaid invoice' },
    });
    expect([...(disabled as { json: { stopped_runs: string[] } }).json.stopped_runs].sort()).toEqual(
      [queued, running].sort(),
    );
    expect(admission.forgotten).toContain('acme');
    const events = await runs.listEvents(member('acme'), running, { after: 0, limit: 10 });
    expect(events.at(-1)).toMatchObject({ type: 'run.canceled', data: { reason: 'unpaid invoice' } });

    const enabled = await handlers.enableTenant(input(operator, { params: { tenant_id: 'acme' } }) as never);
    expect(enabled).toMatchObject({ json: { status: 'active', disabled_reason: null } });
    expect(await runs.getRun(member('acme'), queued)).toMatchObject({ status: 'canceled' });
  });

  it('throws when asked to disable the operator tenant', async () => {
    const { handlers } = await node();
    await handlers.createTenant(input(operator, { body: { tenant_id: 'operator' } }) as never);
    await expect(
      handlers.disableTenant(
        input(operator, { params: { tenant_id: 'operator' }, body: { reason: 'oops' } }) as never,
      ),
    ).rejects.toMatchObject({ code: 'conflict' });
  });

  it("lists a tenant's runs of every principal by status, and stops the ones named", async () => {
    const { handlers, start } = await node();
    await handlers.createTenant(input(operator, { body: { tenant_id: 'acme' } }) as never);
    const queued = await start('acme', 'quick');
    const running = await start('acme', 'quick', true);
    const listed = await handlers.listTenantRuns(
      input(operator, { params: { tenant_id: 'acme' }, query: { status: 'running' } }) as never,
    );
    expect(listed).toMatchObject({
      json: { object: 'list', data: [{ run_id: running, status: 'running' }] },
    });
    const stopped = await handlers.stopTenantRuns(
      input(operator, {
        params: { tenant_id: 'acme' },
        body: { run_ids: [running, queued], reason: 'loop' },
      }) as never,
    );
    expect(stopped).toMatchObject({
      json: {
        object: 'run_stop',
        tenant_id: 'acme',
        stopped: [running, queued],
        already_over: [],
        not_found: [],
      },
    });
    const all = await handlers.stopTenantRuns(
      input(operator, { params: { tenant_id: 'acme' }, body: { all: true, reason: 'again' } }) as never,
    );
    expect(all).toMatchObject({ json: { stopped: [] } });
    await expect(
      handlers.listTenantRuns(input(operator, { params: { tenant_id: 'nope' }, query: {} }) as never),
    ).rejects.toMatchObject({ code: 'not_found' });
  });
});
