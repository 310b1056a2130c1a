import { describe, expect, it } from 'vitest';
import { InMemoryAgentRegistry } from '../../../functions/orchestrator/adapters/in-memory/in-memory-agent-registry.ts';
import { InMemoryMemoryStore } from '../../../functions/orchestrator/adapters/in-memory/in-memory-memory-store.ts';
import { InMemoryRunStateStore } from '../../../functions/orchestrator/adapters/in-memory/in-memory-run-state.ts';
import { InMemoryStepQueue } from '../../../functions/orchestrator/adapters/in-memory/in-memory-step-queue.ts';
import { InMemoryToolRegistry } from '../../../functions/orchestrator/adapters/in-memory/in-memory-tool-registry.ts';
import { InMemoryToolSecrets } from '../../../functions/orchestrator/adapters/in-memory/in-memory-tools.ts';
import { ToolCatalog } from '../../../functions/orchestrator/adapters/tools/tool-catalog.ts';
import { createSafeFetch } from '../../../functions/shared/net/safe-fetch.ts';
import type { AgentDefinition } from '../../../functions/orchestrator/ports/agent-registry-port.ts';
import type { ModelPort } from '../../../functions/orchestrator/ports/model-port.ts';
import { newRunId } from '../../../functions/orchestrator/runtime/run-id.ts';
import { createRunService } from '../../../functions/orchestrator/runtime/run-service.ts';
import { createStepEngine } from '../../../functions/orchestrator/runtime/step-engine.ts';
import type { StepOutcome } from '../../../functions/orchestrator/runtime/step-engine.ts';
import type { AuthContext } from '../../../functions/shared/auth/auth-context.ts';
import type { AssistantMessage } from '../../../functions/shared/contracts/chat.ts';
import {
  DependencyUnavailableError,
  RateLimitedError,
  RequestInProgressError,
} from '../../../functions/shared/errors/agentos-error.ts';
import type { ChatMessage } from '../../../functions/shared/contracts/chat.ts';
import { agentDefinition } from '../../support/agent-definitions.ts';
import { ManualClock } from '../../support/manual-clock.ts';

const auth: AuthContext = {
  tenant_id: 'acme',
  principal: { id: 'user-1', type: 'user' },
  scopes: ['runs:read', 'runs:write'],
  policy_context: {},
};

const agent: AgentDefinition = agentDefinition({
  agent_id: 'helper',
  name: 'Helper',
  model_ref: 'local/scripted',
  instructions: 'Be brief.',
  tool_ids: ['echo'],
  max_steps: 3,
  max_tokens_per_step: 256,
  timeout_seconds: 900,
});

/** A model reply, or what the Model Policy call throws. */
type Turn = AssistantMessage | Error;

const reply = (content: string): AssistantMessage => ({ role: 'assistant', content });
const echo = (text: string, id = 'call_1'): AssistantMessage => ({
  role: 'assistant',
  content: null,
  tool_calls: [{ id, type: 'function', function: { name: 'echo', arguments: JSON.stringify({ text }) } }],
});

/**
 * The engine on in-memory adapters and a manual clock, with a model that answers from a script and
 * records what it was asked.
 */
async function harness(turns: Turn[], agentChanges: Partial<AgentDefinition> = {}) {
  const clock = new ManualClock();
  const now = () => clock.date();
  const runs = new InMemoryRunStateStore({ now });
  const queue = new InMemoryStepQueue();
  const agents = new InMemoryAgentRegistry({ now });
  await agents.put(auth, { ...agent, ...agentChanges });
  const memory = new InMemoryMemoryStore({ now });
  const tools = new ToolCatalog({
    registry: new InMemoryToolRegistry({ now }),
    memory,
    fetch: createSafeFetch(),
    secrets: new InMemoryToolSecrets(),
  });
  const script = [...turns];
  const requests: string[] = [];
  const sent: ChatMessage[][] = [];
  const models: ModelPort = {
    async invoke(_auth, modelRef, request) {
      requests.push(request.request_id);
      sent.push(request.messages);
      const next = script.shift() ?? reply('(script ended)');
      if (next instanceof Error) throw next;
      return {
        request_id: request.request_id,
        correlation_id: 'c',
        output: { message: next, finish_reason: next.tool_calls === undefined ? 'stop' : 'tool_calls' },
        usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, cost_usd: 0 },
        route: { model_ref: modelRef, provider: 'local', model: 'scripted', hops: [] },
        policy: { decision: 'allow', redactions: {}, rules: [] },
        replayed: false,
      };
    },
  };
  const failures: string[] = [];
  const sink = { publish: async () => undefined };
  const reportFailure = (message: string) => {
    failures.push(message);
  };
  const engine = createStepEngine({
    runs,
    queue,
    agents,
    models,
    tools,
    sink,
    now,
    reportFailure,
    warn: (message) => failures.push(message),
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
  });
  const { run } = await service.createRun(
    auth,
    { agent_id: 'helper', input: { messages: [{ role: 'user', content: 'hi' }] } },
    undefined,
  );
  /** Delivers every queued step once (attempt 1), as a worker would, until the queue is empty. */
  async function drain(): Promise<StepOutcome[]> {
    const outcomes: StepOutcome[] = [];
    for (let rounds = 0; rounds < 20; rounds += 1) {
      const tasks = queue.take();
      if (tasks.length === 0) break;
      for (const task of tasks) {
        if (task.kind !== 'run.step') continue;
        outcomes.push(
          await engine.execute(task.auth, {
            runId: task.run_id,
            step: task.step,
            attempt: 1,
            maxAttempts: 3,
          }),
        );
      }
    }
    return outcomes;
  }
  const events = async () =>
    (await runs.listEvents(auth, run.run_id, { after: 0, limit: 1000 })).map((e) => e.type);
  return {
    clock,
    runs,
    queue,
    agents,
    engine,
    runId: run.run_id,
    drain,
    events,
    requests,
    sent,
    failures,
    script,
  };
}

describe('the step engine', () => {
  it('returns done after a model reply and completes the run with that message', async () => {
    const h = await harness([echo('ping'), reply('pong')]);
    const outcomes = await h.drain();
    expect(outcomes.map((o) => o.reason)).toEqual(['step completed', 'step completed']);
    const run = await h.runs.getRun(auth, h.runId);
    expect(run).toMatchObject({
      status: 'completed',
      steps_completed: 2,
      output: { message: { content: 'pong' } },
    });
    expect(await h.events()).toContain('tool.completed');
    expect((await h.events()).at(-1)).toBe('run.completed');
  });

  it('returns retry for a retryable model failure until the last attempt, then fails the run with the reason', async () => {
    const h = await harness([
      new DependencyUnavailableError('backend down'),
      new DependencyUnavailableError('backend down'),
    ]);
    const [task] = h.queue.take();
    const delivery = { runId: h.runId, step: task?.kind === 'run.step' ? task.step : 0, maxAttempts: 2 };
    expect(await h.engine.execute(auth, { ...delivery, attempt: 1 })).toEqual({
      status: 'retry',
      reason: 'dependency_unavailable',
      retryAfterSeconds: 1,
    });
    expect((await h.runs.getRun(auth, h.runId))?.status).toBe('running');
    expect(await h.engine.execute(auth, { ...delivery, attempt: 2 })).toEqual({
      status: 'done',
      reason: 'model call failed',
      continuation: { kind: 'end' },
    });
    expect(await h.runs.getRun(auth, h.runId)).toMatchObject({
      status: 'failed',
      error: { code: 'dependency_unavailable' },
    });
    // Both attempts asked for the same request id, so the Model Policy could replay or dedupe them.
    expect(new Set(h.requests).size).toBe(1);
  });

  it('returns retry after the lease a still-claimed model call names, without spending an attempt', async () => {
    const busy = new RequestInProgressError('still running', { details: { retry_after_seconds: 42.2 } });
    const h = await harness([busy]);
    h.queue.take();
    expect(await h.engine.execute(auth, { runId: h.runId, step: 1, attempt: 3, maxAttempts: 3 })).toEqual({
      status: 'retry',
      reason: 'request_in_progress',
      retryAfterSeconds: 43,
      waitsForClaim: true,
    });
    expect((await h.runs.getRun(auth, h.runId))?.status).toBe('running');
  });

  it("returns a wait, not a failed attempt, when the tenant's own model call rate is spent", async () => {
    const spent = new RateLimitedError('over the rate', {
      details: { limit: 'tenant_model_request_rate', retry_after_seconds: 2 },
    });
    const h = await harness([spent]);
    h.queue.take();
    // The last attempt the agent allows: a failure would fail the run, a wait does not.
    expect(await h.engine.execute(auth, { runId: h.runId, step: 1, attempt: 3, maxAttempts: 3 })).toEqual({
      status: 'retry',
      reason: 'rate_limited',
      retryAfterSeconds: 2,
      waitsForSlot: true,
    });
    expect((await h.runs.getRun(auth, h.runId))?.status).toBe('running');
  });

  it('throws a storage failure of the step.started commit for redelivery, leaving the run queued, under on_model_error abort', async () => {
    const h = await harness([reply('pong')], {
      on_model_error: { action: 'abort', max_attempts: 3, backoff_ms: 1000 },
    });
    h.queue.take();
    const commit = h.runs.commit.bind(h.runs);
    h.runs.commit = async (...args) => {
      if (args[2].events.some((event) => event.type === 'step.started')) {
        throw new DependencyUnavailableError('The state store is unavailable');
      }
      return commit(...args);
    };
    const delivery = { runId: h.runId, step: 1, attempt: 1, maxAttempts: 3 };
    await expect(h.engine.execute(auth, delivery)).rejects.toThrow(DependencyUnavailableError);
    expect((await h.runs.getRun(auth, h.runId))?.status).toBe('queued');
    expect(h.requests).toEqual([]);
    h.runs.commit = commit;
    expect(await h.engine.execute(auth, { ...delivery, attempt: 2 })).toMatchObject({ status: 'done' });
    expect((await h.runs.getRun(auth, h.runId))?.status).toBe('completed');
  });

  it('throws a storage failure of the model.completed commit for redelivery, leaving the run running, under on_model_error abort', async () => {
    const h = await harness([reply('pong')], {
      on_model_error: { action: 'abort', max_attempts: 3, backoff_ms: 1000 },
    });
    h.queue.take();
    const commit = h.runs.commit.bind(h.runs);
    h.runs.commit = async (...args) => {
      if (args[2].events.some((event) => event.type === 'model.completed')) {
        throw new DependencyUnavailableError('The state store is unavailable');
      }
      return commit(...args);
    };
    const delivery = { runId: h.runId, step: 1, attempt: 1, maxAttempts: 3 };
    await expect(h.engine.execute(auth, delivery)).rejects.toThrow(DependencyUnavailableError);
    expect((await h.runs.getRun(auth, h.runId))?.status).toBe('running');
  });

  it('fails the run on its last attempt when every backend is rate limited', async () => {
    const throttled = new RateLimitedError('every backend throttled', {
      details: { limit: 'upstream_rate_limit', retry_after_seconds: 1 },
    });
    const h = await harness([throttled]);
    h.queue.take();
    expect(
      await h.engine.execute(auth, { runId: h.runId, step: 1, attempt: 3, maxAttempts: 3 }),
    ).toMatchObject({
      status: 'done',
      reason: 'model call failed',
    });
    expect(await h.runs.getRun(auth, h.runId)).toMatchObject({
      status: 'failed',
      error: { code: 'rate_limited' },
    });
  });

  it('fails the run with max_steps_exceeded when the agent keeps calling tools', async () => {
    const h = await harness([echo('1'), echo('2', 'call_2'), echo('3', 'call_3'), echo('4', 'call_4')], {
      max_steps: 2,
    });
    await h.drain();
    expect(await h.runs.getRun(auth, h.runId)).toMatchObject({
      status: 'failed',
      steps_completed: 2,
      error: { code: 'max_steps_exceeded' },
    });
    expect(h.requests).toHaveLength(2);
  });

  it("fails the run with run_too_large, naming the limit, when a step would outgrow the agent's max_transcript_bytes", async () => {
    const h = await harness([echo('x'.repeat(1500)), echo('y'.repeat(1500), 'call_2')], {
      max_transcript_bytes: 4096,
    });
    const outcomes = await h.drain();
    expect(outcomes.at(-1)).toEqual({
      status: 'done',
      reason: 'run too large',
      continuation: { kind: 'end' },
    });
    const run = await h.runs.getRun(auth, h.runId);
    expect(run).toMatchObject({ status: 'failed', steps_completed: 1, error: { code: 'run_too_large' } });
    expect(run?.error?.message).toContain('max_transcript_bytes of 4096 bytes');
    expect(run?.transcript_bytes).toBeLessThanOrEqual(4096);
    expect((await h.events()).at(-1)).toBe('run.failed');
    const steps = await h.runs.listSteps(auth, h.runId, { after: 0, limit: 10 });
    expect(steps.map((s) => [s.step, s.status, s.error?.code ?? null])).toEqual([
      [1, 'completed', null],
      [2, 'failed', 'run_too_large'],
    ]);
  });

  it('sends the instructions, the input and the newest transcript within max_context_bytes', async () => {
    const h = await harness([echo('a'.repeat(300)), echo('b'.repeat(300), 'call_2'), reply('done')], {
      max_context_bytes: 1024,
      max_steps: 5,
    });
    await h.drain();
    expect(h.sent.map((messages) => messages.length)).toEqual([2, 4, 4]);
    const third = h.sent[2]!;
    expect(third.slice(0, 2)).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'hi' },
    ]);
    // Only the second step's call and result fit: the first step's are left out, whole.
    expect(third[2]).toMatchObject({ role: 'assistant', tool_calls: [{ id: 'call_2' }] });
    expect(third[3]).toMatchObject({ role: 'tool', tool_call_id: 'call_2' });
    expect(await h.runs.readTranscript(auth, h.runId)).toHaveLength(5);
  });

  it('stores a step record per step: the model request and answer, the tool calls and their results', async () => {
    const h = await harness([echo('ping'), reply('pong')]);
    await h.drain();
    const steps = await h.runs.listSteps(auth, h.runId, { after: 0, limit: 10 });
    expect(steps).toHaveLength(2);
    expect(steps[0]).toMatchObject({
      object: 'step',
      run_id: h.runId,
      step: 1,
      status: 'completed',
      deliveries: 1,
      model: {
        request_id: `${h.runId}/step-1`,
        model_ref: 'local/scripted',
        message_count: 2,
        finish_reason: 'tool_calls',
        usage: { prompt_tokens: 10, completion_tokens: 5, cost_usd: 0 },
        provider: 'local',
        model: 'scripted',
      },
      tool_calls: [
        {
          tool_call_id: 'call_1',
          name: 'echo',
          arguments: JSON.stringify({ text: 'ping' }),
          idempotency_key: `${h.runId}/s1/c0`,
          attempts: [{ attempt: 1, is_error: false }],
        },
      ],
      error: null,
    });
    expect(steps[0]!.model.request_bytes).toBeGreaterThan(0);
    expect(steps[1]).toMatchObject({
      step: 2,
      status: 'completed',
      tool_calls: [],
      model: { message_count: 4 },
    });
  });

  it('records the failed step with the run failure when the model call fails', async () => {
    const h = await harness([new DependencyUnavailableError('backend down')]);
    h.queue.take();
    await h.engine.execute(auth, { runId: h.runId, step: 1, attempt: 3, maxAttempts: 3 });
    const [step] = await h.runs.listSteps(auth, h.runId, { after: 0, limit: 10 });
    expect(step).toMatchObject({
      step: 1,
      status: 'failed',
      deliveries: 3,
      model: { finish_reason: null, usage: null, provider: null },
      error: { code: 'dependency_unavailable' },
    });
  });

  it('runs the agent version the run started with, even after a new version or a deletion', async () => {
    const h = await harness([echo('ping'), reply('pong')]);
    await h.agents.update(auth, 'helper', { ...agent, instructions: 'Version two.' });
    await h.agents.delete(auth, 'helper');
    await h.drain();
    expect(await h.runs.getRun(auth, h.runId)).toMatchObject({ status: 'completed', agent_version: 1 });
    expect(h.sent[0]?.[0]).toEqual({ role: 'system', content: 'Be brief.' });
  });

  it('returns done without calling the model again for a stale redelivery of a finished step', async () => {
    const h = await harness([echo('ping'), reply('pong')]);
    await h.drain();
    const asked = h.requests.length;
    const eventsBefore = await h.events();
    expect(await h.engine.execute(auth, { runId: h.runId, step: 1, attempt: 2, maxAttempts: 3 })).toEqual({
      status: 'done',
      reason: 'run is completed',
      continuation: { kind: 'end' },
    });
    expect(h.requests).toHaveLength(asked);
    expect(await h.events()).toEqual(eventsBefore);
  });

  it('returns done for a step of a running run that was already completed, leaving the log unchanged', async () => {
    const h = await harness([echo('ping'), reply('pong')]);
    h.queue.take();
    await h.engine.execute(auth, { runId: h.runId, step: 1, attempt: 1, maxAttempts: 3 });
    const eventsBefore = await h.events();
    expect(await h.engine.execute(auth, { runId: h.runId, step: 1, attempt: 2, maxAttempts: 3 })).toEqual({
      status: 'done',
      reason: 'step already completed',
    });
    expect(await h.events()).toEqual(eventsBefore);
    expect(await h.engine.execute(auth, { runId: h.runId, step: 5, attempt: 1, maxAttempts: 3 })).toEqual({
      status: 'done',
      reason: 'step is ahead of the run',
    });
  });
});

describe('the step engine, chaining steps under one message', () => {
  /** The first step's message, taken off the queue. */
  function firstStep(h: Awaited<ReturnType<typeof harness>>) {
    const [task] = h.queue.take();
    expect(task?.kind).toBe('run.step');
    return task?.kind === 'run.step' ? task.step : 0;
  }

  it('returns chained and queues nothing when a whole step timeout is left before the deadline', async () => {
    const h = await harness([echo('ping'), reply('pong')]);
    const step = firstStep(h);
    const delivery = { runId: h.runId, attempt: 1, maxAttempts: 3, carrier: step };
    const outcome = await h.engine.execute(auth, { ...delivery, step, deadlineMs: h.clock.now() + 121_000 });
    expect(outcome).toMatchObject({
      status: 'done',
      chained: true,
      continuation: { kind: 'next', step: 2 },
    });
    expect(h.queue.take()).toEqual([]);
    expect(await h.runs.getRun(auth, h.runId)).toMatchObject({ steps_completed: 1, chain_step: step });
    // The worker goes on with step 2 under the same message; the run ends without a message queued.
    const last = await h.engine.execute(auth, { ...delivery, step: 2, deadlineMs: h.clock.now() + 121_000 });
    expect(last).toEqual({ status: 'done', reason: 'step completed', continuation: { kind: 'end' } });
    expect(await h.runs.getRun(auth, h.runId)).toMatchObject({ status: 'completed', steps_completed: 2 });
    expect(h.queue.take()).toEqual([]);
  });

  it('queues the next step when less than a step timeout is left, and the carrier no longer carries the run', async () => {
    const h = await harness([echo('one'), echo('two', 'call_2'), reply('done')]);
    const step = firstStep(h);
    const delivery = { runId: h.runId, attempt: 1, maxAttempts: 3, carrier: step };
    const chained = await h.engine.execute(auth, { ...delivery, step, deadlineMs: h.clock.now() + 200_000 });
    expect(chained.chained).toBe(true);
    const queued = await h.engine.execute(auth, {
      ...delivery,
      step: 2,
      deadlineMs: h.clock.now() + 119_000,
    });
    expect(queued.chained).toBeUndefined();
    expect(queued.continuation).toEqual({ kind: 'next', step: 3, waitSeconds: 0 });
    expect(h.queue.take()).toMatchObject([{ kind: 'run.step', run_id: h.runId, step: 3 }]);
    expect((await h.runs.getRun(auth, h.runId))?.chain_step).toBeNull();
    // The carrier comes back (a duplicate): it runs nothing beside step 3's own delivery.
    const stale = await h.engine.execute(auth, {
      ...delivery,
      step,
      attempt: 2,
      deadlineMs: h.clock.now() + 200_000,
    });
    expect(stale).toEqual({ status: 'done', reason: 'step already completed' });
    expect(h.requests).toHaveLength(2);
  });

  it.each([
    ['no deadline', { carrier: 1 }],
    ['no carrier', { deadlineMs: Number.MAX_SAFE_INTEGER }],
  ])('queues the next step when the delivery names %s', async (_case, named) => {
    const h = await harness([echo('ping'), reply('pong')]);
    const step = firstStep(h);
    const outcome = await h.engine.execute(auth, {
      runId: h.runId,
      step,
      attempt: 1,
      maxAttempts: 3,
      ...named,
    });
    expect(outcome.chained).toBeUndefined();
    expect(h.queue.take()).toMatchObject([{ kind: 'run.step', step: 2 }]);
    expect((await h.runs.getRun(auth, h.runId))?.chain_step).toBeUndefined();
  });

  it('goes on with the run when the carrying message comes back after its worker stopped mid-chain', async () => {
    const h = await harness([echo('one'), echo('two', 'call_2'), reply('done')]);
    const step = firstStep(h);
    const delivery = { runId: h.runId, maxAttempts: 3, carrier: step, deadlineMs: h.clock.now() + 600_000 };
    expect((await h.engine.execute(auth, { ...delivery, step, attempt: 1 })).chained).toBe(true);
    // The worker stopped before step 2 ran; the queue brings the first message back.
    const redelivered = await h.engine.execute(auth, { ...delivery, step, attempt: 2 });
    expect(redelivered).toMatchObject({
      status: 'done',
      chained: true,
      continuation: { kind: 'next', step: 3 },
    });
    expect(await h.runs.getRun(auth, h.runId)).toMatchObject({ steps_completed: 2, chain_step: step });
    // Once more, and the run completes: each redelivery took the run one step on, none ran twice.
    const last = await h.engine.execute(auth, { ...delivery, step, attempt: 3 });
    expect(last).toMatchObject({ status: 'done', continuation: { kind: 'end' } });
    expect(await h.runs.getRun(auth, h.runId)).toMatchObject({ status: 'completed', steps_completed: 3 });
    expect(h.requests).toEqual([`${h.runId}/step-1`, `${h.runId}/step-2`, `${h.runId}/step-3`]);
    expect(h.queue.take()).toEqual([]);
  });

  it('goes on with the run when the carrying message comes back after its chain ended by queueing a successor that never went out', async () => {
    const h = await harness([echo('one'), echo('two', 'call_2'), reply('done')]);
    const step = firstStep(h);
    const delivery = { runId: h.runId, maxAttempts: 3, carrier: step };
    const far = h.clock.now() + 600_000;
    expect((await h.engine.execute(auth, { ...delivery, step, attempt: 1, deadlineMs: far })).chained).toBe(
      true,
    );
    // Step 2 ends the chain (too little time left) and its successor's send fails.
    const enqueueStep = h.queue.enqueueStep.bind(h.queue);
    h.queue.enqueueStep = () => Promise.reject(new Error('queue down'));
    await expect(
      h.engine.execute(auth, { ...delivery, step: 2, attempt: 1, deadlineMs: h.clock.now() + 1_000 }),
    ).rejects.toThrow('queue down');
    h.queue.enqueueStep = enqueueStep;
    // The chain's carrier still carries the run until the successor's own delivery takes over.
    expect(await h.runs.getRun(auth, h.runId)).toMatchObject({ steps_completed: 2, chain_step: step });
    expect(h.queue.take()).toEqual([]);
    const again = await h.engine.execute(auth, { ...delivery, step, attempt: 2, deadlineMs: far });
    expect(again).toMatchObject({ status: 'done', continuation: { kind: 'end' } });
    expect(await h.runs.getRun(auth, h.runId)).toMatchObject({ status: 'completed', steps_completed: 3 });
    expect(h.requests).toEqual([`${h.runId}/step-1`, `${h.runId}/step-2`, `${h.runId}/step-3`]);
  });

  it('clears the chain once a queued successor completes its own step, so the old carrier takes nothing over', async () => {
    const h = await harness([echo('one'), echo('two', 'call_2'), echo('three', 'call_3'), reply('done')], {
      max_steps: 4,
    });
    const step = firstStep(h);
    const delivery = { runId: h.runId, maxAttempts: 3 };
    const far = h.clock.now() + 600_000;
    await h.engine.execute(auth, { ...delivery, step, attempt: 1, deadlineMs: far, carrier: step });
    // Step 2 ends the chain by queueing step 3, whose own message then completes it (not chaining).
    const near = h.clock.now() + 1_000;
    await h.engine.execute(auth, { ...delivery, step: 2, attempt: 1, deadlineMs: near, carrier: step });
    expect(h.queue.take()).toMatchObject([{ step: 3 }]);
    await h.engine.execute(auth, { ...delivery, step: 3, attempt: 1, deadlineMs: near, carrier: 3 });
    expect(await h.runs.getRun(auth, h.runId)).toMatchObject({ steps_completed: 3, chain_step: null });
    const stale = await h.engine.execute(auth, {
      ...delivery,
      step,
      attempt: 2,
      deadlineMs: far,
      carrier: step,
    });
    expect(stale).toEqual({ status: 'done', reason: 'step already completed' });
    expect(h.requests).toHaveLength(3);
  });

  it('returns a chained step handed to the queue in a message of its own, and its carrier no longer carries the run', async () => {
    const h = await harness([echo('one'), echo('two', 'call_2'), reply('done')]);
    const step = firstStep(h);
    const far = h.clock.now() + 600_000;
    await h.engine.execute(auth, {
      runId: h.runId,
      step,
      attempt: 1,
      maxAttempts: 3,
      deadlineMs: far,
      carrier: step,
    });
    expect((await h.runs.getRun(auth, h.runId))?.chain_step).toBe(step);
    await h.engine.resend(auth, h.runId, 2, { triedBefore: 1, carrier: step });
    expect(h.queue.take()).toMatchObject([{ kind: 'run.step', step: 2, attempt: 1 }]);
    expect((await h.runs.getRun(auth, h.runId))?.chain_step).toBeNull();
  });

  it('leaves a run alone when a message comes back whose successor was queued', async () => {
    const h = await harness([echo('one'), echo('two', 'call_2'), reply('done')]);
    const step = firstStep(h);
    const delivery = { runId: h.runId, maxAttempts: 3, carrier: step, deadlineMs: h.clock.now() + 60_000 };
    expect((await h.engine.execute(auth, { ...delivery, step, attempt: 1 })).chained).toBeUndefined();
    expect(h.queue.take()).toMatchObject([{ kind: 'run.step', step: 2 }]);
    const again = await h.engine.execute(auth, { ...delivery, step, attempt: 2 });
    expect(again).toEqual({ status: 'done', reason: 'step already completed' });
    expect(await h.runs.getRun(auth, h.runId)).toMatchObject({ steps_completed: 1 });
    expect(h.requests).toEqual([`${h.runId}/step-1`]);
  });
});
