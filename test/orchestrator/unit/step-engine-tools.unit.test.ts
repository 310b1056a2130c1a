import { describe, expect, it } from 'vitest';
import { InMemoryAgentRegistry } from '../../../functions/orchestrator/adapters/in-memory/in-memory-agent-registry.ts';
import { InMemoryMemoryStore } from '../../../functions/orchestrator/adapters/in-memory/in-memory-memory-store.ts';
import { InMemoryRunDriver } from '../../../functions/orchestrator/adapters/in-memory/in-memory-run-driver.ts';
import { InMemoryRunStateStore } from '../../../functions/orchestrator/adapters/in-memory/in-memory-run-state.ts';
import { InMemoryStepQueue } from '../../../functions/orchestrator/adapters/in-memory/in-memory-step-queue.ts';
import { InMemoryToolRegistry } from '../../../functions/orchestrator/adapters/in-memory/in-memory-tool-registry.ts';
import { InMemoryToolSecrets } from '../../../functions/orchestrator/adapters/in-memory/in-memory-tools.ts';
import { ToolCatalog } from '../../../functions/orchestrator/adapters/tools/tool-catalog.ts';
import type { ModelPort } from '../../../functions/orchestrator/ports/model-port.ts';
import type {
  ToolInvocation,
  ToolPort,
  ToolResult,
} from '../../../functions/orchestrator/ports/tool-port.ts';
import { maxRunRecordBytes } from '../../../functions/orchestrator/ports/run-state-port.ts';
import type { AgentSpec } from '../../../functions/orchestrator/schemas/agent.ts';
import type { RunEvent } from '../../../functions/orchestrator/schemas/event.ts';
import { newRunId } from '../../../functions/orchestrator/runtime/run-id.ts';
import { createRunService } from '../../../functions/orchestrator/runtime/run-service.ts';
import { createStepEngine } from '../../../functions/orchestrator/runtime/step-engine.ts';
import type { StepOutcome } from '../../../functions/orchestrator/runtime/step-engine.ts';
import { LocalModelProvider } from '../../../functions/model-policy/providers/local-provider.ts';
import type { LocalTurn } from '../../../functions/model-policy/providers/local-provider.ts';
import type { AuthContext } from '../../../functions/shared/auth/auth-context.ts';
import { DependencyUnavailableError } from '../../../functions/shared/errors/agentos-error.ts';
import { createSafeFetch } from '../../../functions/shared/net/safe-fetch.ts';
import { ManualClock } from '../../support/manual-clock.ts';
import { agentDefinition } from '../../support/agent-definitions.ts';

const auth: AuthContext = {
  tenant_id: 'acme',
  principal: { id: 'user-1', type: 'user' },
  scopes: ['runs:read', 'runs:write'],
  policy_context: {},
};

const toolCalls = (...calls: [string, Record<string, unknown>][]): LocalTurn => ({
  tool_calls: calls.map(([name, args]) => ({ name, arguments: args })),
});

/**
 * The engine on in-memory adapters, the built-in tool catalog and a manual clock. The model is the
 * local provider's scripted model, playing `turns` (one per step); `models` replaces it. The tool
 * `hang` never answers; `flaky` throws (storage unreachable) as often as `flakyThrows` says.
 */
async function harness(options: {
  turns?: LocalTurn[];
  agent?: Partial<AgentSpec>;
  models?: ModelPort;
  flakyThrows?: number;
}) {
  const clock = new ManualClock();
  const now = () => clock.date();
  const runs = new InMemoryRunStateStore({ now });
  const queue = new InMemoryStepQueue();
  const agents = new InMemoryAgentRegistry({ now });
  await agents.put(
    auth,
    agentDefinition({
      agent_id: 'helper',
      name: 'Helper',
      model_ref: 'local/scripted',
      instructions: 'Be brief.',
      ...options.agent,
    }),
  );
  const catalog = new ToolCatalog({
    registry: new InMemoryToolRegistry({ now }),
    memory: new InMemoryMemoryStore({ now }),
    fetch: createSafeFetch(),
    secrets: new InMemoryToolSecrets(),
  });
  const invocations: ToolInvocation[] = [];
  let flakyThrows = options.flakyThrows ?? 0;
  // A double around the real catalog: it records every call, and adds what no real tool does on
  // demand (never answering, throwing as if its store were down).
  const tools: ToolPort = {
    describe: (a, ids) => catalog.describe(a, ids),
    async invoke(a, call): Promise<ToolResult> {
      invocations.push(call);
      if (call.name === 'hang') return new Promise<ToolResult>(() => undefined);
      if (call.name === 'flaky' && flakyThrows > 0) {
        flakyThrows -= 1;
        throw new DependencyUnavailableError('tool registry unreachable');
      }
      if (call.name === 'flaky') return { output: 'flaky ok', isError: false };
      return catalog.invoke(a, call);
    },
  };
  const local = new LocalModelProvider();
  const models: ModelPort = options.models ?? {
    async invoke(_auth, modelRef, request) {
      const result = await local.complete({
        model: 'scripted',
        messages: request.messages,
        ...(request.tools === undefined ? {} : { tools: request.tools }),
        max_tokens: request.max_tokens ?? 256,
        signal: new AbortController().signal,
      });
      return {
        request_id: request.request_id,
        correlation_id: 'c',
        output: { message: result.message, finish_reason: result.finish_reason },
        usage: {
          ...result.usage,
          total_tokens: result.usage.prompt_tokens + result.usage.completion_tokens,
          cost_usd: 0,
        },
        route: { model_ref: modelRef, provider: 'local', model: 'scripted', hops: [] },
        policy: { decision: 'allow', redactions: {}, rules: [] },
        replayed: false,
      };
    },
  };
  const failures: string[] = [];
  const sink = { publish: async () => undefined };
  const driver = new InMemoryRunDriver({ now });
  const engine = createStepEngine({
    runs,
    queue,
    driver,
    agents,
    models,
    tools,
    sink,
    now,
    clock,
    reportFailure: (message) => failures.push(message),
    warn: (message) => failures.push(message),
  });
  const service = createRunService({
    runs,
    queue,
    driver,
    agents,
    sink,
    reportFailure: (message) => failures.push(message),
    now,
    newRunId: () => newRunId(clock.now()),
    idempotencyTtlSeconds: 86_400,
  });
  const script = `agentos-script: ${JSON.stringify(options.turns ?? [])}`;
  const { run } = await service.createRun(
    auth,
    { agent_id: 'helper', input: { messages: [{ role: 'user', content: script }] } },
    undefined,
  );
  async function deliver(
    step: number,
    attempt = 1,
    maxAttempts = 3,
    deadlineMs?: number,
  ): Promise<StepOutcome> {
    return engine.execute(auth, {
      runId: run.run_id,
      step,
      attempt,
      maxAttempts,
      ...(deadlineMs === undefined ? {} : { deadlineMs }),
    });
  }
  /** Delivers every queued step once, as a worker would, until the queue is empty. */
  async function drain(): Promise<StepOutcome[]> {
    const outcomes: StepOutcome[] = [];
    for (let rounds = 0; rounds < 20; rounds += 1) {
      const tasks = queue.take().filter((task) => task.kind === 'run.step');
      if (tasks.length === 0) break;
      for (const task of tasks) outcomes.push(await deliver(task.step));
    }
    return outcomes;
  }
  /**
   * Runs the step tasks a long run's execution hands out, answering each with the outcome's
   * continuation as the step worker does, until the execution hands out no more.
   */
  async function driveLong(): Promise<StepOutcome[]> {
    const outcomes: StepOutcome[] = [];
    for (let rounds = 0; rounds < 20; rounds += 1) {
      const [task] = driver.take();
      if (task?.kind !== 'run.step' || task.task_token === undefined) break;
      const outcome = await deliver(task.step, (task.attempt ?? 0) + 1, task.max_attempts ?? 3);
      outcomes.push(outcome);
      if (outcome.status === 'retry') await driver.fail(task.task_token, 'StepRetry', outcome.reason);
      else if (outcome.continuation !== undefined)
        await driver.succeed(task.task_token, outcome.continuation);
    }
    return outcomes;
  }
  const events = async (): Promise<RunEvent[]> =>
    runs.listEvents(auth, run.run_id, { after: 0, limit: 1000 });
  const toolEvents = async () =>
    (await events())
      .filter((e) => e.type.startsWith('tool.'))
      .map((e): Record<string, unknown> & { id: string } => ({
        ...e.data,
        id: e.event_id.slice(run.run_id.length + 1),
      }));
  return {
    runs,
    queue,
    runId: run.run_id,
    clock,
    drain,
    driveLong,
    execution: () => driver.executions()[0],
    steps: () => runs.listSteps(auth, run.run_id, { after: 0, limit: 100 }),
    deliver,
    events,
    toolEvents,
    invocations,
    failures,
    getRun: () => runs.getRun(auth, run.run_id),
  };
}

describe('tool calls in the step engine', () => {
  it('runs a multi-step tool loop with the scripted local model and completes with its reply', async () => {
    const h = await harness({
      agent: { tool_ids: ['echo', 'word_count', 'memory_put', 'memory_search'], max_steps: 5 },
      turns: [
        toolCalls(['echo', { text: 'ping' }], ['word_count', { text: 'three little words' }]),
        toolCalls(
          ['memory_put', { key: 'fact', value: 'the sky is blue' }],
          ['memory_put', { key: 'night', value: 'the sky at night is dark' }],
        ),
        toolCalls(['memory_search', { query: 'blue sky' }]),
        { reply: 'all done' },
      ],
    });
    const outcomes = await h.drain();
    expect(outcomes.map((o) => o.reason)).toEqual(Array(4).fill('step completed'));
    expect(await h.getRun()).toMatchObject({
      status: 'completed',
      steps_completed: 4,
      output: { message: { content: 'all done' } },
    });
    const completed = (await h.toolEvents()).filter((e) => e.id.includes('tool.completed'));
    expect(completed.map((e) => [e['name'], e['attempt'], e['is_error']])).toEqual([
      ['echo', 1, false],
      ['word_count', 1, false],
      ['memory_put', 1, false],
      ['memory_put', 1, false],
      ['memory_search', 1, false],
    ]);
    expect(completed.slice(0, 4).map((e) => e['output'])).toEqual([
      'ping',
      '3',
      'stored fact',
      'stored night',
    ]);
    // The search finds what the run stored, the entry matching every word first.
    const hits = JSON.parse(String(completed[4]?.['output'])) as {
      key: string;
      value: string;
      score: number;
    }[];
    expect(hits.map((hit) => hit.key)).toEqual(['fact', 'night']);
    expect(hits[0]).toMatchObject({ value: 'the sky is blue' });
    expect(hits[0]?.score).toBeGreaterThan(0);
    expect(hits[0]?.score).toBeGreaterThan(hits[1]?.score ?? Infinity);
    expect(h.invocations.map((call) => call.idempotencyKey)).toEqual([
      `${h.runId}/s1/c0`,
      `${h.runId}/s1/c1`,
      `${h.runId}/s2/c0`,
      `${h.runId}/s2/c1`,
      `${h.runId}/s3/c0`,
    ]);
    // Every call is a requested/completed pair, in that order.
    const types = (await h.events()).filter((e) => e.type.startsWith('tool.')).map((e) => e.type);
    expect(types).toEqual(Array(5).fill(['tool.requested', 'tool.completed']).flat());
  });

  it('records a tool timeout, retries it with an event pair per attempt, then fails the run tool_failed', async () => {
    const h = await harness({
      agent: {
        tool_ids: ['hang'],
        tool_timeout_ms: 2000,
        on_tool_error: { action: 'retry', max_attempts: 3, backoff_ms: 500, on_exhausted: 'abort' },
      },
      turns: [toolCalls(['hang', {}]), { reply: 'never reached' }],
    });
    expect((await h.drain()).map((o) => o.reason)).toEqual(['tool policy aborted the run']);
    const events = await h.toolEvents();
    expect(events.map((e) => e.id)).toEqual(
      ['', ':a2', ':a3'].flatMap((suffix) => [
        `s1:tool.requested:call_0_0${suffix}`,
        `s1:tool.completed:call_0_0${suffix}`,
      ]),
    );
    expect(
      events.filter((e) => e.id.includes('completed')).map((e) => [e['attempt'], e['is_error'], e['error']]),
    ).toEqual([
      [1, true, { code: 'timeout', message: 'The tool did not answer within 2000 ms' }],
      [2, true, { code: 'timeout', message: 'The tool did not answer within 2000 ms' }],
      [3, true, { code: 'timeout', message: 'The tool did not answer within 2000 ms' }],
    ]);
    expect(h.invocations).toHaveLength(3);
    // Each retry waits out the backoff, doubling from 500 ms, after the 2000 ms timeout.
    const [record] = await h.steps();
    const starts = (record?.tool_calls[0]?.attempts ?? []).map((a) => Date.parse(a.started_at));
    expect(starts.slice(1).map((start, i) => start - (starts[i] ?? 0))).toEqual([2000 + 500, 2000 + 1000]);
    const run = await h.getRun();
    expect(run).toMatchObject({ status: 'failed', error: { code: 'tool_failed' } });
    expect(run?.error?.message).toContain('"hang"');
    expect(run?.error?.message).toContain('timeout');
    expect((await h.events()).at(-1)?.type).toBe('run.failed');
  });

  it('ends a tool call when the worker running the step must stop, before the agent’s own timeouts', async () => {
    const h = await harness({
      agent: { tool_ids: ['hang'], tool_timeout_ms: 60_000, step_timeout_seconds: 120 },
      turns: [toolCalls(['hang', {}]), { reply: 'the tool is slow' }],
    });
    h.queue.take();
    await h.deliver(1, 1, 3, h.clock.now() + 3000);
    const completed = (await h.toolEvents()).filter((e) => e.id.includes('completed'));
    expect(completed.map((e) => [e['is_error'], (e['error'] as { code: string }).code])).toEqual([
      [true, 'timeout'],
    ]);
    expect(h.invocations[0]?.timeoutMs).toBeLessThanOrEqual(3000);
  });

  it('hands a timeout to the model once the retries are spent when the policy says continue', async () => {
    const h = await harness({
      agent: {
        tool_ids: ['hang'],
        tool_timeout_ms: 1000,
        on_tool_error: { action: 'retry', max_attempts: 2, backoff_ms: 0, on_exhausted: 'continue' },
      },
      turns: [toolCalls(['hang', {}]), { reply: 'the tool is down' }],
    });
    await h.drain();
    expect(h.invocations).toHaveLength(2);
    expect(await h.getRun()).toMatchObject({
      status: 'completed',
      output: { message: { content: 'the tool is down' } },
    });
  });

  it('fails the run on any tool error under abort, and hands one retrying cannot mend to the model under retry', async () => {
    // http_fetch to loopback is refused (blocked_destination): an error no retry can mend.
    const blocked = toolCalls(['http_fetch', { url: 'http://127.0.0.1:9/' }]);
    const aborting = await harness({
      agent: {
        tool_ids: ['http_fetch'],
        on_tool_error: { action: 'abort', max_attempts: 1, backoff_ms: 0, on_exhausted: 'continue' },
      },
      turns: [blocked, { reply: 'never reached' }],
    });
    await aborting.drain();
    const aborted = await aborting.getRun();
    expect(aborted).toMatchObject({ status: 'failed', error: { code: 'tool_failed' } });
    expect(aborted?.error?.message).toContain('blocked_destination');

    const retrying = await harness({
      agent: {
        tool_ids: ['http_fetch'],
        on_tool_error: { action: 'retry', max_attempts: 3, backoff_ms: 100, on_exhausted: 'abort' },
      },
      turns: [blocked, { reply: 'the page is out of reach' }],
    });
    await retrying.drain();
    expect(retrying.invocations).toHaveLength(1);
    expect(await retrying.getRun()).toMatchObject({ status: 'completed' });
  });

  it('fails the run at the first timeout when the policy says abort, and hands it to the model when it says continue', async () => {
    const aborting = await harness({
      agent: {
        tool_ids: ['hang'],
        on_tool_error: { action: 'abort', max_attempts: 3, backoff_ms: 0, on_exhausted: 'abort' },
      },
      turns: [toolCalls(['hang', {}])],
    });
    await aborting.drain();
    expect(aborting.invocations).toHaveLength(1);
    expect(await aborting.getRun()).toMatchObject({ status: 'failed', error: { code: 'tool_failed' } });

    const continuing = await harness({
      agent: { tool_ids: ['hang'] },
      turns: [toolCalls(['hang', {}]), { reply: 'ok' }],
    });
    await continuing.drain();
    expect(continuing.invocations).toHaveLength(1);
    expect(await continuing.getRun()).toMatchObject({ status: 'completed' });
  });

  it('returns not_allowed for a tool outside the agent’s list and invalid_arguments to the model, even under abort', async () => {
    const h = await harness({
      agent: {
        tool_ids: ['echo'],
        on_tool_error: { action: 'abort', max_attempts: 1, backoff_ms: 0, on_exhausted: 'abort' },
      },
      turns: [
        toolCalls(['word_count', { text: 'a b' }], ['echo', { wrong: 1 }], ['wait', { seconds: 5 }]),
        { reply: 'fine' },
      ],
    });
    await h.drain();
    const completed = (await h.toolEvents()).filter((e) => e.id.includes('tool.completed'));
    expect(completed.map((e) => (e['error'] as { code: string }).code)).toEqual([
      'not_allowed',
      'invalid_arguments',
      'not_allowed',
    ]);
    expect(h.invocations.map((call) => call.name)).toEqual(['echo']);
    expect(await h.getRun()).toMatchObject({ status: 'completed' });
  });

  it('does not call a tool again when a step is delivered twice after it stored the call', async () => {
    const h = await harness({
      agent: { tool_ids: ['echo', 'flaky'] },
      flakyThrows: 1,
      turns: [toolCalls(['echo', { text: 'once' }], ['flaky', {}]), { reply: 'done' }],
    });
    h.queue.take();
    // The first delivery dies at the second call (its store is unreachable): the first call's result is stored.
    await expect(h.deliver(1, 1)).rejects.toThrow(DependencyUnavailableError);
    expect(await h.deliver(1, 2)).toMatchObject({ status: 'done', reason: 'step completed' });
    // A duplicate of the finished step changes nothing.
    expect(await h.deliver(1, 1)).toMatchObject({ status: 'done', reason: 'step already completed' });
    await h.drain();
    expect(h.invocations.map((call) => call.name)).toEqual(['echo', 'flaky', 'flaky']);
    expect((await h.toolEvents()).filter((e) => e.id.includes('completed')).map((e) => e['output'])).toEqual([
      'once',
      'flaky ok',
    ]);
    expect(await h.getRun()).toMatchObject({ status: 'completed', output: { message: { content: 'done' } } });
  });

  it('completes a step of many large tool calls, its step record kept within one stored item', async () => {
    // Each call's arguments and output are just under what a step record keeps of either.
    const text = 'x'.repeat(15_500);
    const calls = Array.from({ length: 10 }, (): [string, Record<string, unknown>] => ['echo', { text }]);
    const h = await harness({
      agent: { tool_ids: ['echo'], max_tokens_per_step: 100_000, max_context_bytes: 4 * 1024 * 1024 },
      turns: [toolCalls(...calls), { reply: 'done' }],
    });
    const outcomes = await h.drain();
    expect(outcomes.map((o) => o.reason)).toEqual(['step completed', 'step completed']);
    expect(await h.getRun()).toMatchObject({ status: 'completed' });
    const [first] = await h.steps();
    expect(first?.tool_calls).toHaveLength(10);
    expect(Buffer.byteLength(JSON.stringify(first), 'utf8')).toBeLessThanOrEqual(maxRunRecordBytes);
  });
});

describe('the model error policy', () => {
  const down: ModelPort = {
    invoke: async () => {
      throw new DependencyUnavailableError('The Model Policy is unreachable');
    },
  };

  it('fails the run at once with dependency_unavailable when the policy says abort', async () => {
    const h = await harness({
      models: down,
      agent: { on_model_error: { action: 'abort', max_attempts: 3, backoff_ms: 1000 } },
    });
    h.queue.take();
    expect(await h.deliver(1, 1, 5)).toEqual({
      status: 'done',
      reason: 'model call failed',
      continuation: { kind: 'end' },
    });
    expect(await h.getRun()).toMatchObject({ status: 'failed', error: { code: 'dependency_unavailable' } });
  });

  it('retries with doubling backoff up to the policy’s attempts, then fails with the code', async () => {
    const h = await harness({
      models: down,
      agent: { on_model_error: { action: 'retry', max_attempts: 3, backoff_ms: 1500 } },
    });
    h.queue.take();
    expect(await h.deliver(1, 1, 5)).toEqual({
      status: 'retry',
      reason: 'dependency_unavailable',
      retryAfterSeconds: 2,
    });
    expect(await h.deliver(1, 2, 5)).toEqual({
      status: 'retry',
      reason: 'dependency_unavailable',
      retryAfterSeconds: 3,
    });
    expect(await h.deliver(1, 3, 5)).toEqual({
      status: 'done',
      reason: 'model call failed',
      continuation: { kind: 'end' },
    });
    expect(await h.getRun()).toMatchObject({ status: 'failed', error: { code: 'dependency_unavailable' } });
  });

  it('stops retrying at the node’s attempts when they are fewer than the policy’s', async () => {
    const h = await harness({
      models: down,
      agent: { on_model_error: { action: 'retry', max_attempts: 10, backoff_ms: 0 } },
    });
    h.queue.take();
    expect(await h.deliver(1, 1, 2)).toMatchObject({ status: 'retry', retryAfterSeconds: 0 });
    expect(await h.deliver(1, 2, 2)).toEqual({
      status: 'done',
      reason: 'model call failed',
      continuation: { kind: 'end' },
    });
  });
});

describe('a long run whose step fails', () => {
  const abort = { action: 'abort', max_attempts: 1, backoff_ms: 0, on_exhausted: 'abort' } as const;

  it('ends its execution when the tool policy aborts the run, with the failed step and its call recorded', async () => {
    const h = await harness({
      agent: { run_mode: 'long', tool_ids: ['hang'], tool_timeout_ms: 1000, on_tool_error: abort },
      turns: [toolCalls(['hang', {}]), { reply: 'never reached' }],
    });
    expect(await h.driveLong()).toEqual([
      { status: 'done', reason: 'tool policy aborted the run', continuation: { kind: 'end' } },
    ]);
    expect(h.execution()).toMatchObject({ status: 'SUCCEEDED', step: 1 });
    expect(await h.getRun()).toMatchObject({ status: 'failed', error: { code: 'tool_failed' } });
    expect(await h.steps()).toMatchObject([
      {
        step: 1,
        status: 'failed',
        error: { code: 'tool_failed' },
        tool_calls: [
          { name: 'hang', attempts: [{ attempt: 1, is_error: true, error: { code: 'timeout' } }] },
        ],
      },
    ]);
  });

  it('ends its execution when the model call fails under an abort policy', async () => {
    const h = await harness({
      agent: { run_mode: 'long', on_model_error: { action: 'abort', max_attempts: 1, backoff_ms: 0 } },
      models: {
        invoke: async () => {
          throw new DependencyUnavailableError('The Model Policy is unreachable');
        },
      },
    });
    expect(await h.driveLong()).toEqual([
      { status: 'done', reason: 'model call failed', continuation: { kind: 'end' } },
    ]);
    expect(h.execution()?.status).toBe('SUCCEEDED');
    expect(await h.getRun()).toMatchObject({ status: 'failed', error: { code: 'dependency_unavailable' } });
    expect(await h.steps()).toMatchObject([{ step: 1, status: 'failed' }]);
  });

  it('ends its execution when the agent is still calling tools at max_steps', async () => {
    const h = await harness({
      agent: { run_mode: 'long', tool_ids: ['echo'], max_steps: 2 },
      turns: [toolCalls(['echo', { text: '1' }]), toolCalls(['echo', { text: '2' }]), { reply: 'late' }],
    });
    const outcomes = await h.driveLong();
    expect(outcomes.map((outcome) => outcome.continuation)).toEqual([
      { kind: 'next', step: 2, waitSeconds: 0 },
      { kind: 'end' },
    ]);
    expect(h.execution()?.status).toBe('SUCCEEDED');
    expect(await h.getRun()).toMatchObject({ status: 'failed', error: { code: 'max_steps_exceeded' } });
  });
});

describe('the writes of a step', () => {
  const threeSteps = [
    toolCalls(['echo', { text: 'one' }]),
    toolCalls(['echo', { text: 'two' }]),
    { reply: 'done' },
  ];
  const threeStepEvents = [
    'run.queued',
    'run.started',
    ...[
      'step.started',
      'model.requested',
      'model.completed',
      'tool.requested',
      'tool.completed',
      'step.completed',
    ],
    ...[
      'step.started',
      'model.requested',
      'model.completed',
      'tool.requested',
      'tool.completed',
      'step.completed',
    ],
    ...['step.started', 'model.requested', 'model.completed', 'step.completed', 'run.completed'],
  ];

  /** Counts the run's commits, and throws `failure` from the first commit `failWhen` picks. */
  function watchCommits(
    runs: InMemoryRunStateStore,
    failWhen?: (change: Parameters<InMemoryRunStateStore['commit']>[2]) => boolean,
  ) {
    const original = runs.commit.bind(runs);
    const seen = { commits: 0, failed: false };
    runs.commit = async (a, runId, change) => {
      seen.commits += 1;
      if (!seen.failed && failWhen?.(change) === true) {
        seen.failed = true;
        throw new DependencyUnavailableError('the store is unreachable');
      }
      return original(a, runId, change);
    };
    return seen;
  }

  it('stores a three-step run in eight commits, with every event in the order of one commit per event', async () => {
    const h = await harness({ agent: { tool_ids: ['echo'] }, turns: threeSteps });
    const seen = watchCommits(h.runs);
    await h.drain();
    expect(await h.getRun()).toMatchObject({ status: 'completed', steps_completed: 3 });
    expect((await h.events()).map((e) => e.type)).toEqual(threeStepEvents);
    expect((await h.events()).map((e) => e.sequence)).toEqual(threeStepEvents.map((_, i) => i + 1));
    // Per tool step: its start, the answer with the call's request, the call's result with the
    // step's completion; the last step: its start, the answer with the run's completion.
    expect(seen.commits).toBe(8);
  });

  it('returns the same run when the commit of a final answer fails and the step is delivered again', async () => {
    const h = await harness({ turns: [{ reply: 'only once' }] });
    watchCommits(h.runs, (change) => change.status === 'completed');
    h.queue.take();
    await expect(h.deliver(1, 1)).rejects.toThrow(DependencyUnavailableError);
    expect(await h.deliver(1, 2)).toMatchObject({ status: 'done', reason: 'step completed' });
    const run = await h.getRun();
    const answers = (await h.events()).filter((e) => e.type === 'model.completed');
    expect(answers).toHaveLength(1);
    expect(run).toMatchObject({ status: 'completed', output: { message: { content: 'only once' } } });
    // The usage of the one model call, counted once.
    expect(run?.usage.prompt_tokens).toBe(
      (answers[0]?.data['usage'] as { prompt_tokens: number }).prompt_tokens,
    );
  });

  it('stores each event once when two deliveries of a step run side by side', async () => {
    const h = await harness({ agent: { tool_ids: ['echo'] }, turns: threeSteps });
    h.queue.take();
    await h.deliver(1);
    h.queue.take();
    const outcomes = await Promise.all([h.deliver(2, 1), h.deliver(2, 1)]);
    // The one that found the step completed by the other is a duplicate: done, nothing to redo.
    expect(outcomes.map((o) => o.reason).sort()).toEqual([
      'step completed',
      'step completed by another delivery',
    ]);
    expect(outcomes.every((o) => o.status === 'done')).toBe(true);
    expect(await h.deliver(2, 2)).toMatchObject({ status: 'done', reason: 'step already completed' });
    await h.drain();
    const events = await h.events();
    expect(events.map((e) => e.type)).toEqual(threeStepEvents);
    expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
    expect(await h.getRun()).toMatchObject({ status: 'completed', output: { message: { content: 'done' } } });
  });

  it('calls a tool again with the same idempotency key when the commit of its result and the step’s completion fails', async () => {
    const h = await harness({ agent: { tool_ids: ['echo'] }, turns: threeSteps });
    watchCommits(h.runs, (change) => change.events.some((e) => e.type === 'tool.completed'));
    h.queue.take();
    await expect(h.deliver(1, 1)).rejects.toThrow(DependencyUnavailableError);
    expect(await h.deliver(1, 2)).toMatchObject({ status: 'done', reason: 'step completed' });
    await h.drain();
    // The call was made again (its result was not stored), with the same idempotency key.
    const keys = h.invocations.map((call) => call.idempotencyKey);
    expect(keys.slice(0, 2)).toEqual([keys[0], keys[0]]);
    expect((await h.events()).map((e) => e.type)).toEqual(threeStepEvents);
  });
});
