import { describe, expect, it, vi } from 'vitest';
import { InMemoryAgentRegistry } from '../../../functions/orchestrator/adapters/in-memory/in-memory-agent-registry.ts';
import { InMemoryMemoryStore } from '../../../functions/orchestrator/adapters/in-memory/in-memory-memory-store.ts';
import { InMemoryRunStateStore } from '../../../functions/orchestrator/adapters/in-memory/in-memory-run-state.ts';
import { InMemoryStepQueue } from '../../../functions/orchestrator/adapters/in-memory/in-memory-step-queue.ts';
import { InMemoryToolRegistry } from '../../../functions/orchestrator/adapters/in-memory/in-memory-tool-registry.ts';
import { InMemoryToolSecrets } from '../../../functions/orchestrator/adapters/in-memory/in-memory-tools.ts';
import { ToolCatalog } from '../../../functions/orchestrator/adapters/tools/tool-catalog.ts';
import { runHandlers } from '../../../functions/orchestrator/api/run-handlers.ts';
import { RunEventHub } from '../../../functions/orchestrator/events/run-event-hub.ts';
import type { AgentDefinition } from '../../../functions/orchestrator/ports/agent-registry-port.ts';
import type { ModelPort } from '../../../functions/orchestrator/ports/model-port.ts';
import { newRunId } from '../../../functions/orchestrator/runtime/run-id.ts';
import { createRunService } from '../../../functions/orchestrator/runtime/run-service.ts';
import type { NodeCapacityMode } from '../../../functions/orchestrator/runtime/run-service.ts';
import { createStreamSlots } from '../../../functions/orchestrator/events/stream-slots.ts';
import {
  createRunSlots,
  firstStepGraceSeconds,
  runSlotPools,
} from '../../../functions/orchestrator/runtime/run-slots.ts';
import { createStepEngine, slotWaitSeconds } from '../../../functions/orchestrator/runtime/step-engine.ts';
import type { StepOutcome } from '../../../functions/orchestrator/runtime/step-engine.ts';
import type { RunTaskMessage } from '../../../functions/orchestrator/runtime/step-message.ts';
import type { AuthContext } from '../../../functions/shared/auth/auth-context.ts';
import type { AssistantMessage } from '../../../functions/shared/contracts/chat.ts';
import { RateLimitedError } from '../../../functions/shared/errors/agentos-error.ts';
import { storageKeys } from '../../../functions/shared/storage/keys.ts';
import { createSafeFetch } from '../../../functions/shared/net/safe-fetch.ts';
import type { Tenant, TenantQuotas } from '../../../functions/shared/tenancy/tenant-schemas.ts';
import { agentDefinition } from '../../support/agent-definitions.ts';
import {
  InMemoryRateLimiter,
  InMemorySlotPool,
} from '../../../functions/shared/limits/adapters/in-memory-limits.ts';
import { testAdmission, testTenant } from '../../support/limits-doubles.ts';
import { ManualClock } from '../../support/manual-clock.ts';

const auth: AuthContext = {
  tenant_id: 'acme',
  principal: { id: 'user-1', type: 'user' },
  scopes: ['runs:read', 'runs:write'],
  policy_context: {},
};

const agent: AgentDefinition = agentDefinition({
  agent_id: 'helper',
  model_ref: 'local/scripted',
  tool_ids: ['echo'],
  max_steps: 3,
  timeout_seconds: 900,
  step_timeout_seconds: 120,
});

const reply = (content: string): AssistantMessage => ({ role: 'assistant', content });
const echoCalls = (...texts: string[]): AssistantMessage => ({
  role: 'assistant',
  content: null,
  tool_calls: texts.map((text, i) => ({
    id: `call_${i + 1}`,
    type: 'function' as const,
    function: { name: 'echo', arguments: JSON.stringify({ text }) },
  })),
});

const body = { agent_id: 'helper', input: { messages: [{ role: 'user' as const, content: 'hi' }] } };

/**
 * Run service and step engine on in-memory adapters, the limiter doubles and a manual clock. The
 * model asks for an echo on step 1 (so the run stays running, holding its slot) and replies on step 2,
 * unless `model` says otherwise.
 */
async function harness(
  quotas: Partial<TenantQuotas> = {},
  options: {
    nodeMaxConcurrentRuns?: number;
    nodeCapacityMode?: NodeCapacityMode;
    model?: (step: number) => AssistantMessage | Promise<AssistantMessage>;
    tenant?: Omit<Partial<Tenant>, 'quotas'>;
  } = {},
) {
  const clock = new ManualClock();
  const now = () => clock.date();
  const runs = new InMemoryRunStateStore({ now });
  const queue = new InMemoryStepQueue({ now });
  const agents = new InMemoryAgentRegistry({ now });
  await agents.put(auth, agent);
  const tenants = new Map([['acme', testTenant('acme', { ...options.tenant, quotas })]]);
  const admission = testAdmission(tenants);
  const limiter = new InMemoryRateLimiter({ clock });
  const pool = new InMemorySlotPool({ clock });
  const slots = createRunSlots({
    pool,
    nodeMaxConcurrentRuns: options.nodeMaxConcurrentRuns ?? 1_000,
    leaseSeconds: 60,
    clock,
  });
  const model = options.model ?? ((step: number) => (step === 1 ? echoCalls('ping') : reply('pong')));
  const models: ModelPort = {
    async invoke(_auth, modelRef, request) {
      const step = Number(request.request_id.split('/step-')[1]);
      const message = await model(step);
      return {
        request_id: request.request_id,
        correlation_id: 'c',
        output: { message, finish_reason: message.tool_calls === undefined ? 'stop' : 'tool_calls' },
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2, cost_usd: 0 },
        route: { model_ref: modelRef, provider: 'local', model: 'scripted', hops: [] },
        policy: { decision: 'allow', redactions: {}, rules: [] },
        replayed: false,
      };
    },
  };
  const failures: string[] = [];
  const reportFailure = (message: string) => {
    failures.push(message);
  };
  const sink = { publish: async () => undefined };
  const engine = createStepEngine({
    runs,
    queue,
    agents,
    models,
    tools: new ToolCatalog({
      registry: new InMemoryToolRegistry({ now }),
      memory: new InMemoryMemoryStore({ now }),
      fetch: createSafeFetch(),
      secrets: new InMemoryToolSecrets(),
    }),
    sink,
    now,
    clock,
    reportFailure,
    warn: (message) => failures.push(message),
    limits: { admission, slots, limiter },
  });
  const service = createRunService({
    runs,
    queue,
    agents,
    sink,
    reportFailure,
    now,
    newRunId: () => newRunId(clock.now()),
    idempotencyTtlSeconds: 86_400,
    limits: { limiter, slots, nodeCapacityMode: options.nodeCapacityMode ?? 'queue' },
  });
  const tenant = () => tenants.get('acme')!;
  const create = (key?: string) => service.createRun(auth, body, key, tenant());
  /** Steps waiting for another delivery (retried ones), as the queue would bring them back. */
  const waiting: RunTaskMessage[] = [];
  /** Delivers every due step once, as workers would; retried steps wait for the next round. */
  async function round(): Promise<StepOutcome[]> {
    const tasks = [...waiting.splice(0), ...queue.take()];
    const outcomes: StepOutcome[] = [];
    for (const task of tasks) {
      if (task.kind !== 'run.step') continue;
      const outcome = await engine.execute(task.auth, {
        runId: task.run_id,
        step: task.step,
        attempt: 1,
        maxAttempts: 3,
      });
      if (outcome.status === 'retry') waiting.push(task);
      outcomes.push(outcome);
    }
    return outcomes;
  }
  async function statuses(): Promise<Record<string, number>> {
    const page = await runs.listRuns(auth, { limit: 100 });
    const counts: Record<string, number> = {};
    for (const run of page.runs) counts[run.status] = (counts[run.status] ?? 0) + 1;
    return counts;
  }
  return {
    clock,
    agents,
    runs,
    queue,
    engine,
    service,
    pool,
    slots,
    tenants,
    tenant,
    create,
    round,
    statuses,
    waiting,
    failures,
    handlers: runHandlers({
      service,
      runs,
      timing: { pollMinMs: 10, pollMaxMs: 100, keepAliveMs: 15_000, maxDurationMs: 60_000, retryMs: 1000 },
      hub: new RunEventHub({
        runs,
        timing: { pollMinMs: 10, pollMaxMs: 100, keepAliveMs: 15_000, maxDurationMs: 60_000, retryMs: 1000 },
      }),
      streamSlots: createStreamSlots({ pool, reportFailure, clock }),
      readiness: async () => ({ status: 200, json: {} }),
      jwks: async () => ({ status: 200, json: {} }),
      eventsUrl: async (_auth, runId) => `/v1/runs/${runId}/events`,
    }),
  };
}

async function refusal(promise: Promise<unknown>): Promise<RateLimitedError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(RateLimitedError);
  return error as RateLimitedError;
}

describe('run creation limits', () => {
  it('refuses a run over the tenant run rate with the limit named, Retry-After and RateLimit headers', async () => {
    const h = await harness({ runs_per_second: 1, run_burst: 2 });
    const first = await h.create();
    const second = await h.create();
    expect(first.rateLimit).toMatchObject({ allowed: true, limit: 2, remaining: 1 });
    expect(second.rateLimit).toMatchObject({ allowed: true, limit: 2, remaining: 0 });
    const error = await refusal(h.create());
    expect(error.status).toBe(429);
    expect(error.details).toEqual({ limit: 'tenant_run_rate', retry_after_seconds: 1 });
    expect(error.headers).toMatchObject({ 'ratelimit-limit': '2', 'ratelimit-remaining': '0' });
    h.clock.advance(1_000);
    await expect(h.create()).resolves.toMatchObject({ replayed: false });
  });

  it('sends the RateLimit headers with an accepted run creation', async () => {
    const h = await harness({ runs_per_second: 5, run_burst: 10 });
    const result = await h.handlers.createRun({
      auth,
      tenant: h.tenant(),
      body,
      headers: {},
    } as unknown as Parameters<typeof h.handlers.createRun>[0]);
    expect(result.status).toBe(201);
    expect(result.headers).toMatchObject({
      'ratelimit-limit': '10',
      'ratelimit-remaining': '9',
      'ratelimit-reset': '1',
    });
  });

  it('throws not found for an unknown agent without taking from the run rate', async () => {
    const h = await harness({ runs_per_second: 1, run_burst: 1 });
    const unknown = h.service.createRun(auth, { ...body, agent_id: 'nobody' }, undefined, h.tenant());
    await expect(unknown).rejects.toMatchObject({ status: 404, code: 'not_found' });
    await expect(h.create()).resolves.toMatchObject({ replayed: false, rateLimit: { remaining: 0 } });
  });

  it('refuses a flood past the run rate before looking up its agent', async () => {
    const h = await harness({ runs_per_second: 1, run_burst: 1 });
    await h.create();
    await refusal(h.create());
    const lookups = vi.spyOn(h.agents, 'get');
    const error = await refusal(h.create());
    expect(error.details).toMatchObject({ limit: 'tenant_run_rate' });
    expect(lookups).not.toHaveBeenCalled();
  });

  it('answers an idempotent replay without taking from the run rate', async () => {
    const h = await harness({ runs_per_second: 1, run_burst: 1 });
    const created = await h.create('key-1');
    const replay = await h.create('key-1');
    expect(replay).toMatchObject({ replayed: true, run: { run_id: created.run.run_id } });
    expect(replay.rateLimit).toBeUndefined();
  });

  it('reads no idempotency claim before creating a run: the creating write meets a live one', async () => {
    const h = await harness({ runs_per_second: 5, run_burst: 5 });
    const lookups = vi.spyOn(h.runs, 'findIdempotentRun');
    const created = await h.create('key-1');
    expect(created).toMatchObject({ replayed: false, rateLimit: { remaining: 4 } });
    expect(lookups).not.toHaveBeenCalled();
    await expect(h.create('key-1')).resolves.toMatchObject({
      replayed: true,
      run: { run_id: created.run.run_id },
    });
  });

  it('answers an idempotent replay while the run rate is spent', async () => {
    const h = await harness({ runs_per_second: 1, run_burst: 1 });
    const created = await h.create('key-1');
    expect((await refusal(h.create())).details).toMatchObject({ limit: 'tenant_run_rate' });
    const replay = await h.create('key-1');
    expect(replay).toMatchObject({ replayed: true, run: { run_id: created.run.run_id } });
  });

  it('answers an idempotent replay while the tenant queue is full', async () => {
    const h = await harness({
      max_concurrent_runs: 1,
      max_queued_runs: 0,
      runs_per_second: 10,
      run_burst: 10,
    });
    const created = await h.create('key-1');
    expect((await refusal(h.create())).details).toMatchObject({ limit: 'tenant_queued_runs' });
    const replay = await h.create('key-1');
    expect(replay).toMatchObject({ replayed: true, run: { run_id: created.run.run_id } });
  });

  it('stores no run and gives its queue slot back when the run rate refuses it in the creating write', async () => {
    const h = await harness({ runs_per_second: 1, run_burst: 1 });
    const released = vi.spyOn(h.slots, 'release');
    // Both pass the flood check (the bucket is not spent yet) and hold a queue slot; one is refused.
    const outcomes = await Promise.allSettled([h.create('key-1'), h.create('key-2')]);
    const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(refused).toHaveLength(1);
    expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({
      details: { limit: 'tenant_run_rate' },
    });
    expect(await h.statuses()).toEqual({ queued: 1 });
    expect(released).toHaveBeenCalledTimes(1);
  });

  it('refuses a run past the queued cap beyond the free run slots', async () => {
    const h = await harness({ max_concurrent_runs: 1, max_queued_runs: 2 });
    await h.create();
    await h.create();
    await h.create();
    const error = await refusal(h.create());
    expect(error.details).toMatchObject({ limit: 'tenant_queued_runs' });
    // A queue slot frees when any run ends, not when the oldest run's lease (minutes) lapses.
    expect(error.details).toMatchObject({ retry_after_seconds: expect.any(Number) });
    expect((error.details as { retry_after_seconds: number }).retry_after_seconds).toBeLessThanOrEqual(5);
    // One starts and leaves the queue; the two others still fill it.
    await h.round();
    expect(await h.statuses()).toEqual({ running: 1, queued: 2 });
    expect((await refusal(h.create())).details).toMatchObject({ limit: 'tenant_queued_runs' });
  });

  it('refuses a run while the node is full in reject mode', async () => {
    const h = await harness({}, { nodeMaxConcurrentRuns: 1, nodeCapacityMode: 'reject' });
    await h.create();
    await h.round();
    const error = await refusal(h.create());
    expect(error.details).toMatchObject({ limit: 'node_concurrent_runs' });
  });
});

describe('run slots', () => {
  it('holds a cap of 3 concurrent runs over 30 submissions and frees slots as runs end', async () => {
    const h = await harness({ max_concurrent_runs: 3, runs_per_second: 100, run_burst: 100 });
    for (let i = 0; i < 30; i += 1) await h.create();
    let most = 0;
    for (let rounds = 0; rounds < 40; rounds += 1) {
      const outcomes = await h.round();
      const counts = await h.statuses();
      most = Math.max(most, counts['running'] ?? 0);
      expect(counts['running'] ?? 0).toBeLessThanOrEqual(3);
      if (outcomes.length === 0) break;
    }
    expect(most).toBe(3);
    expect(await h.statuses()).toEqual({ completed: 30 });
    expect(await h.pool.holders(runSlotPools.tenantRunning('acme'))).toEqual([]);
    expect(await h.pool.holders(runSlotPools.nodeRunning())).toEqual([]);
    expect(await h.pool.holders(runSlotPools.tenantQueued('acme'))).toEqual([]);
  });

  it('keeps a run queued with its status reason while the tenant slots are full', async () => {
    const h = await harness({ max_concurrent_runs: 1 });
    await h.create();
    const { run: second } = await h.create();
    const outcomes = await h.round();
    expect(outcomes.map((o) => o.reason)).toEqual(['step completed', 'waiting_for_run_slot']);
    expect(outcomes[1]).toMatchObject({ status: 'retry', waitsForSlot: true, retryAfterSeconds: 5 });
    expect(await h.service.getRun(auth, second.run_id)).toMatchObject({
      status: 'queued',
      status_reason: 'waiting_for_run_slot',
    });
    // The first run ends; the second starts and no longer says it waits.
    await h.round();
    await h.round();
    expect(await h.service.getRun(auth, second.run_id)).toMatchObject({
      status: 'running',
      status_reason: null,
    });
  });

  it('says a run waits for the node when the node slots are full', async () => {
    const h = await harness({}, { nodeMaxConcurrentRuns: 1 });
    await h.create();
    const { run: second } = await h.create();
    await h.round();
    expect(await h.service.getRun(auth, second.run_id)).toMatchObject({
      status: 'queued',
      status_reason: 'waiting_for_node_capacity',
    });
    // Not holding a tenant slot while it waits for the node.
    expect((await h.pool.holders(runSlotPools.tenantRunning('acme'))).map((l) => l.holder)).toEqual([
      expect.not.stringMatching(second.run_id),
    ]);
  });

  it('frees the slot of a worker that died holding it once its lease expires', async () => {
    // Step 1 of the first run never returns: its worker is gone mid-step.
    let calls = 0;
    const h = await harness(
      { max_concurrent_runs: 1 },
      {
        model: () => {
          calls += 1;
          return calls === 1 ? new Promise<AssistantMessage>(() => undefined) : reply('done');
        },
      },
    );
    const { run: first } = await h.create();
    const { run: second } = await h.create();
    // Both first steps are handed out; the first run's worker dies in the model call.
    expect(h.queue.take().map((task) => task.run_id)).toEqual([first.run_id, second.run_id]);
    void h.engine.execute(auth, { runId: first.run_id, step: 1, attempt: 1, maxAttempts: 3 });
    await expect.poll(() => calls).toBe(1);
    expect(
      await h.engine.execute(auth, { runId: second.run_id, step: 1, attempt: 1, maxAttempts: 3 }),
    ).toMatchObject({
      reason: 'waiting_for_run_slot',
    });
    // The lease is the step timeout plus a minute.
    h.clock.advance((120 + 60) * 1000 + 1);
    expect(
      await h.engine.execute(auth, { runId: second.run_id, step: 1, attempt: 2, maxAttempts: 3 }),
    ).toMatchObject({
      reason: 'step completed',
    });
    expect(await h.service.getRun(auth, second.run_id)).toMatchObject({ status: 'completed' });
    // The dead worker's step, redelivered, takes the slot again and goes on.
    expect(
      await h.engine.execute(auth, { runId: first.run_id, step: 1, attempt: 2, maxAttempts: 3 }),
    ).toMatchObject({
      reason: 'step completed',
    });
    expect(await h.pool.holders(runSlotPools.tenantRunning('acme'))).toEqual([]);
  });

  it('cancels the run of a disabled tenant at its next step with the reason and frees its slots', async () => {
    const h = await harness();
    const { run } = await h.create();
    await h.round();
    h.tenants.set('acme', { ...h.tenant(), status: 'disabled', disabled_reason: 'abuse report 17' });
    const outcomes = await h.round();
    expect(outcomes).toEqual([expect.objectContaining({ status: 'done', reason: 'tenant disabled' })]);
    const events = await h.runs.listEvents(auth, run.run_id, { after: 0, limit: 100 });
    expect(events.at(-1)).toMatchObject({
      type: 'run.canceled',
      data: { status: 'canceled', reason: 'tenant disabled: abuse report 17' },
    });
    expect(await h.service.getRun(auth, run.run_id)).toMatchObject({ status: 'canceled' });
    expect(await h.pool.holders(runSlotPools.tenantRunning('acme'))).toEqual([]);
    expect(await h.pool.holders(runSlotPools.nodeRunning())).toEqual([]);
  });

  it('frees the slots of a run canceled through the API', async () => {
    const h = await harness({ max_concurrent_runs: 1 });
    const { run } = await h.create();
    await h.round();
    expect(await h.pool.holders(runSlotPools.tenantRunning('acme'))).toHaveLength(1);
    await h.service.cancelRun(auth, run.run_id);
    expect(await h.pool.holders(runSlotPools.tenantRunning('acme'))).toEqual([]);
    expect(await h.pool.holders(runSlotPools.nodeRunning())).toEqual([]);
  });
  it('keeps the slots of a run a duplicate first delivery found started by the other', async () => {
    const h = await harness({ max_concurrent_runs: 1 });
    const { run } = await h.create();
    const [task] = h.queue.take();
    const delivery = { runId: run.run_id, step: 1, attempt: 1, maxAttempts: 3 };
    expect(task).toMatchObject({ kind: 'run.step', step: 1 });
    const outcomes = await Promise.all([h.engine.execute(auth, delivery), h.engine.execute(auth, delivery)]);
    expect(outcomes.map((o) => o.reason).sort()).toEqual(['run left running (running)', 'step completed']);
    expect(await h.service.getRun(auth, run.run_id)).toMatchObject({ status: 'running' });
    expect((await h.pool.holders(runSlotPools.tenantRunning('acme'))).map((l) => l.holder)).toEqual([
      run.run_id,
    ]);
    expect((await h.pool.holders(runSlotPools.nodeRunning())).map((l) => l.holder)).toEqual([run.run_id]);
  });
});

describe('waking a waiting run (HLD §10.2)', () => {
  const step = (runId: string, n: number, attempt = 1) => ({ runId, step: n, attempt, maxAttempts: 3 });

  it('hands the waiting run its first step at once when the running run ends', async () => {
    const h = await harness({ max_concurrent_runs: 1 });
    const { run: first } = await h.create();
    const { run: second } = await h.create();
    h.queue.take();
    expect(await h.engine.execute(auth, step(first.run_id, 1))).toMatchObject({ reason: 'step completed' });
    expect(await h.engine.execute(auth, step(second.run_id, 1))).toMatchObject({
      reason: 'waiting_for_run_slot',
    });
    // While the slot is held, nobody is woken: only the running run's next step is queued.
    expect(h.queue.take().map((task) => [task.run_id, 'step' in task ? task.step : null])).toEqual([
      [first.run_id, 2],
    ]);
    expect(await h.engine.execute(auth, step(first.run_id, 2))).toMatchObject({ reason: 'step completed' });
    expect(await h.service.getRun(auth, first.run_id)).toMatchObject({ status: 'completed' });
    // The release woke the waiting run: its first step is in the queue now, not after its redelivery.
    const woken = h.queue.take();
    expect(woken.map((task) => [task.kind, task.run_id, 'step' in task ? task.step : null])).toEqual([
      ['run.step', second.run_id, 1],
    ]);
    expect(woken[0]?.auth).toEqual(auth);
    expect(await h.engine.execute(auth, step(second.run_id, 1))).toMatchObject({ reason: 'step completed' });
    expect(await h.service.getRun(auth, second.run_id)).toMatchObject({
      status: 'running',
      status_reason: null,
    });
    expect(h.failures).toEqual([]);
  });

  it('hands the waiting run its first step at once when the running run is canceled through the API', async () => {
    const h = await harness({ max_concurrent_runs: 1 });
    const { run: first } = await h.create();
    const { run: second } = await h.create();
    h.queue.take();
    await h.engine.execute(auth, step(first.run_id, 1));
    expect(await h.engine.execute(auth, step(second.run_id, 1))).toMatchObject({
      reason: 'waiting_for_run_slot',
    });
    // The first run's next step waits in the queue: no step is in flight to notice the cancel.
    expect(h.queue.take().map((task) => task.run_id)).toEqual([first.run_id]);
    const canceled = await h.handlers.cancelRun({
      auth,
      tenant: h.tenant(),
      params: { run_id: first.run_id },
    } as unknown as Parameters<typeof h.handlers.cancelRun>[0]);
    expect(canceled).toMatchObject({ status: 200, json: { status: 'canceled' } });
    expect(h.queue.take().map((task) => [task.kind, task.run_id])).toEqual([['run.step', second.run_id]]);
    expect(await h.engine.execute(auth, step(second.run_id, 1))).toMatchObject({ reason: 'step completed' });
    expect(h.failures).toEqual([]);
  });

  it('does not wake again on a duplicate delivery of a run already over', async () => {
    const h = await harness({ max_concurrent_runs: 1 });
    const { run: first } = await h.create();
    const { run: second } = await h.create();
    h.queue.take();
    await h.engine.execute(auth, step(first.run_id, 1));
    await h.engine.execute(auth, step(second.run_id, 1));
    h.queue.take();
    await h.engine.execute(auth, step(first.run_id, 2));
    expect(h.queue.take()).toHaveLength(1);
    // The step message of the ended run comes back: it only releases, so wakes do not multiply.
    expect(await h.engine.execute(auth, step(first.run_id, 2, 2))).toMatchObject({ status: 'done' });
    expect(h.queue.take()).toEqual([]);
  });

  it('wakes as many waiting runs as slots are free, oldest first, and no more', async () => {
    const h = await harness({ max_concurrent_runs: 2, runs_per_second: 100, run_burst: 100 });
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      ids.push((await h.create()).run.run_id);
      h.clock.advance(1);
    }
    h.queue.take();
    for (const id of ids) await h.engine.execute(auth, step(id, 1));
    h.queue.take();
    expect(await h.slots.wake(h.tenant(), auth, { runs: h.runs, queue: h.queue })).toEqual([]);
    await h.service.cancelRun(auth, ids[0]!);
    await h.service.cancelRun(auth, ids[1]!);
    expect(await h.slots.wake(h.tenant(), auth, { runs: h.runs, queue: h.queue })).toEqual([ids[2], ids[3]]);
  });

  it('wakes no queued run that waits for no slot: its first step message is still on its way', async () => {
    const h = await harness({ max_concurrent_runs: 1 });
    const { run: first } = await h.create();
    h.clock.advance(1);
    const { run: second } = await h.create();
    h.clock.advance(1);
    const { run: third } = await h.create();
    h.queue.take();
    await h.engine.execute(auth, step(first.run_id, 1));
    expect(await h.engine.execute(auth, step(third.run_id, 1))).toMatchObject({
      reason: 'waiting_for_run_slot',
    });
    h.queue.take();
    await h.service.cancelRun(auth, first.run_id);
    // The second run is older, but nothing of it has run yet: only the third, which waits, is woken.
    expect(await h.slots.wake(h.tenant(), auth, { runs: h.runs, queue: h.queue })).toEqual([third.run_id]);
    expect(h.queue.take().map((task) => task.run_id)).toEqual([third.run_id]);
    expect(await h.service.getRun(auth, second.run_id)).toMatchObject({
      status: 'queued',
      status_reason: null,
    });
  });

  it('wakes a queued run that waits for no slot once it is older than its first step message could be', async () => {
    const h = await harness({ max_concurrent_runs: 1 });
    const { run: first } = await h.create();
    const { run: unscheduled } = await h.create();
    h.queue.take();
    // The second run's first step message is lost (as when it could not be sent): nothing tries it.
    await h.engine.execute(auth, step(first.run_id, 1));
    await h.service.cancelRun(auth, first.run_id);
    h.queue.take();
    expect(await h.slots.wake(h.tenant(), auth, { runs: h.runs, queue: h.queue })).toEqual([]);
    h.clock.advance(firstStepGraceSeconds * 1000);
    expect(await h.slots.wake(h.tenant(), auth, { runs: h.runs, queue: h.queue })).toEqual([
      unscheduled.run_id,
    ]);
  });

  it('takes the slot a run gave back between refusing a step and saying it waits, which no wake would find', async () => {
    const h = await harness({ max_concurrent_runs: 1 });
    const { run: first } = await h.create();
    const { run: second } = await h.create();
    h.queue.take();
    await h.engine.execute(auth, step(first.run_id, 1));
    const commit = h.runs.commit.bind(h.runs);
    let wokenInBetween: string[] | undefined;
    h.runs.commit = async (context, runId, change) => {
      // The first run ends just before the second says it waits: the release reads no reason.
      if (runId === second.run_id && change.changes?.status_reason === 'waiting_for_run_slot') {
        await h.service.cancelRun(auth, first.run_id);
        await h.engine.execute(auth, step(first.run_id, 2));
        wokenInBetween = await h.slots.wake(h.tenant(), auth, { runs: h.runs, queue: h.queue });
      }
      return commit(context, runId, change);
    };
    expect(await h.engine.execute(auth, step(second.run_id, 1))).toMatchObject({ reason: 'step completed' });
    expect(wokenInBetween).toEqual([]);
    expect(await h.service.getRun(auth, second.run_id)).toMatchObject({
      status: 'running',
      status_reason: null,
    });
  });

  it('says what a step waits for after its second look, when that differs from the first', async () => {
    const h = await harness({ max_concurrent_runs: 1 }, { nodeMaxConcurrentRuns: 1 });
    const { run: first } = await h.create();
    const { run: second } = await h.create();
    h.queue.take();
    await h.engine.execute(auth, step(first.run_id, 1));
    const commit = h.runs.commit.bind(h.runs);
    h.runs.commit = async (context, runId, change) => {
      // The tenant's slot frees up in between, but the node's stays taken.
      if (runId === second.run_id && change.changes?.status_reason === 'waiting_for_run_slot')
        await h.pool.release(runSlotPools.tenantRunning('acme'), first.run_id);
      return commit(context, runId, change);
    };
    expect(await h.engine.execute(auth, step(second.run_id, 1))).toMatchObject({
      reason: 'waiting_for_node_capacity',
    });
    expect(await h.service.getRun(auth, second.run_id)).toMatchObject({
      status: 'queued',
      status_reason: 'waiting_for_node_capacity',
    });
  });

  it("hands another principal's waiting run its first step, with that principal's Auth Context, when a run ends", async () => {
    const h = await harness({ max_concurrent_runs: 1 });
    const other: AuthContext = {
      ...auth,
      principal: { id: 'user-2', type: 'service' },
      scopes: ['runs:write'],
    };
    const { run: first } = await h.create();
    const { run: second } = await h.service.createRun(other, body, undefined, h.tenant());
    h.queue.take();
    await h.engine.execute(auth, step(first.run_id, 1));
    expect(await h.engine.execute(other, step(second.run_id, 1))).toMatchObject({
      reason: 'waiting_for_run_slot',
    });
    h.queue.take();
    expect(await h.engine.execute(auth, step(first.run_id, 2))).toMatchObject({ reason: 'step completed' });
    const woken = h.queue.take();
    expect(woken.map((task) => [task.kind, task.run_id])).toEqual([['run.step', second.run_id]]);
    expect(woken[0]?.auth).toEqual(other);
    expect(await h.engine.execute(woken[0]!.auth, step(second.run_id, 1))).toMatchObject({
      reason: 'step completed',
    });
    expect(await h.service.getRun(other, second.run_id)).toMatchObject({ status: 'running' });
    expect(h.failures).toEqual([]);
  });

  it('skips a long run and a run of another principal stored without its Auth Context: their redelivery brings them back', async () => {
    const h = await harness({ max_concurrent_runs: 1 });
    const { run: first } = await h.create();
    const { run: second } = await h.create();
    h.queue.take();
    await h.engine.execute(auth, step(first.run_id, 1));
    await h.engine.execute(auth, step(second.run_id, 1));
    await h.service.cancelRun(auth, first.run_id);
    h.queue.take();
    // As stored before the run record kept its Auth Context.
    const stored = { ...(await h.runs.getRun(auth, second.run_id))!, auth: undefined };
    const other: AuthContext = { ...auth, principal: { id: 'user-2', type: 'user' } };
    const older = { getRun: async () => stored };
    expect(await h.slots.wake(h.tenant(), other, { runs: older, queue: h.queue })).toEqual([]);
    const longRun = { getRun: async () => ({ ...stored, mode: 'long' as const }) };
    expect(await h.slots.wake(h.tenant(), auth, { runs: longRun, queue: h.queue })).toEqual([]);
    expect(await h.slots.wake(h.tenant(), other, { runs: h.runs, queue: h.queue })).toEqual([second.run_id]);
    expect(h.queue.take()[0]?.auth).toEqual(auth);
  });

  it('reports a failed wake and still releases the slots and ends the step', async () => {
    const h = await harness({ max_concurrent_runs: 1 });
    const { run: first } = await h.create();
    const { run: second } = await h.create();
    h.queue.take();
    await h.engine.execute(auth, step(first.run_id, 1));
    await h.engine.execute(auth, step(second.run_id, 1));
    h.queue.take();
    const enqueue = vi.spyOn(h.queue, 'enqueueStep').mockImplementation(async () => {
      throw new Error('queue down');
    });
    expect(await h.engine.execute(auth, step(first.run_id, 2))).toMatchObject({
      status: 'done',
      reason: 'step completed',
    });
    expect(enqueue).toHaveBeenCalledTimes(1);
    expect(h.failures).toEqual(['waiting run not woken']);
    expect(await h.service.getRun(auth, first.run_id)).toMatchObject({ status: 'completed' });
    expect(await h.pool.holders(runSlotPools.tenantRunning('acme'))).toEqual([]);
    expect(await h.pool.holders(runSlotPools.nodeRunning())).toEqual([]);
    enqueue.mockRestore();
    // The waiting run's own redelivery is the safety net.
    expect(await h.engine.execute(auth, step(second.run_id, 1, 2))).toMatchObject({
      reason: 'step completed',
    });
  });

  it('backs off the redelivery of a waiting step per attempt, up to a minute', async () => {
    const h = await harness({ max_concurrent_runs: 1 });
    const { run: first } = await h.create();
    const { run: second } = await h.create();
    h.queue.take();
    await h.engine.execute(auth, step(first.run_id, 1));
    const waits: (number | undefined)[] = [];
    for (let attempt = 1; attempt <= 7; attempt += 1) {
      const outcome = await h.engine.execute(auth, step(second.run_id, 1, attempt));
      expect(outcome).toMatchObject({ status: 'retry', waitsForSlot: true });
      waits.push(outcome.retryAfterSeconds);
    }
    expect(waits).toEqual([5, 10, 20, 40, 60, 60, 60]);
    expect(slotWaitSeconds(1)).toBe(5);
    expect(slotWaitSeconds(1_000)).toBe(60);
    expect(slotWaitSeconds(3, 2, 30)).toBe(8);
    expect(slotWaitSeconds(0)).toBe(5);
  });
});

describe('tenant tool limits', () => {
  async function toolErrors(h: Awaited<ReturnType<typeof harness>>, runId: string) {
    const events = await h.runs.listEvents(auth, runId, { after: 0, limit: 100 });
    return events.filter((e) => e.type === 'tool.completed').map((e) => e.data['error'] ?? null);
  }

  it('refuses a tool outside the tenant allow-list with not_allowed, which the model sees', async () => {
    const h = await harness({}, { tenant: { tool_allowlist: ['wait'] } });
    const { run } = await h.create();
    await h.round();
    await h.round();
    expect(await toolErrors(h, run.run_id)).toEqual([
      { code: 'not_allowed', message: 'Tool "echo" is not in the tenant\'s tool allow-list' },
    ]);
    expect(await h.service.getRun(auth, run.run_id)).toMatchObject({ status: 'completed' });
  });

  it('fails a call over the tenant tool-call rate with the retryable rate_limited', async () => {
    const h = await harness(
      { tool_calls_per_minute: 1 },
      { model: (step) => (step === 1 ? echoCalls('a', 'b') : reply('done')) },
    );
    const { run } = await h.create();
    await h.round();
    const errors = await toolErrors(h, run.run_id);
    expect(errors[0]).toBeNull();
    expect(errors[1]).toMatchObject({ code: 'rate_limited' });
    expect(String((errors[1] as { message: string }).message)).toMatch(/1 tool calls per minute/);
  });
});

describe('the tenant open-stream cap on the events route', () => {
  it('refuses a stream over max_sse_connections across instances and frees its slot when the client leaves', async () => {
    const h = await harness({ max_sse_connections: 1 });
    const { run } = await h.create();
    const stream = (signal: AbortSignal) =>
      h.handlers.listRunEvents({
        auth,
        tenant: h.tenant(),
        params: { run_id: run.run_id },
        query: {},
        headers: { accept: 'text/event-stream' },
        signal,
      } as unknown as Parameters<typeof h.handlers.listRunEvents>[0]);
    const client = new AbortController();
    await stream(client.signal);
    const refused = await refusal(stream(new AbortController().signal));
    expect(refused.details).toMatchObject({ limit: 'tenant_sse_connections' });
    client.abort();
    const pool = storageKeys.tenantLimit('acme', 'sse-slots');
    await expect.poll(async () => (await h.pool.holders(pool)).length).toBe(0);
  });
});
