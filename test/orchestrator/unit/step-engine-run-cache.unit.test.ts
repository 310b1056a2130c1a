import { describe, expect, it } from 'vitest';
import { InMemoryAgentRegistry } from '../../../functions/orchestrator/adapters/in-memory/in-memory-agent-registry.ts';
import { InMemoryMemoryStore } from '../../../functions/orchestrator/adapters/in-memory/in-memory-memory-store.ts';
import { InMemoryRunStateStore } from '../../../functions/orchestrator/adapters/in-memory/in-memory-run-state.ts';
import { InMemoryStepQueue } from '../../../functions/orchestrator/adapters/in-memory/in-memory-step-queue.ts';
import { InMemoryToolRegistry } from '../../../functions/orchestrator/adapters/in-memory/in-memory-tool-registry.ts';
import { InMemoryToolSecrets } from '../../../functions/orchestrator/adapters/in-memory/in-memory-tools.ts';
import { ToolCatalog } from '../../../functions/orchestrator/adapters/tools/tool-catalog.ts';
import type { AgentDefinition } from '../../../functions/orchestrator/ports/agent-registry-port.ts';
import type { ModelPort } from '../../../functions/orchestrator/ports/model-port.ts';
import type { RunStatePort } from '../../../functions/orchestrator/ports/run-state-port.ts';
import { eventIds } from '../../../functions/orchestrator/runtime/event-ids.ts';
import { newRunId } from '../../../functions/orchestrator/runtime/run-id.ts';
import { createRunService } from '../../../functions/orchestrator/runtime/run-service.ts';
import { statesLeadingTo } from '../../../functions/orchestrator/runtime/run-state-machine.ts';
import { createStepEngine } from '../../../functions/orchestrator/runtime/step-engine.ts';
import type { StepOutcome } from '../../../functions/orchestrator/runtime/step-engine.ts';
import { newEvent } from '../../../functions/orchestrator/schemas/event.ts';
import type { AuthContext } from '../../../functions/shared/auth/auth-context.ts';
import type { AssistantMessage, ChatMessage } from '../../../functions/shared/contracts/chat.ts';
import { createSafeFetch } from '../../../functions/shared/net/safe-fetch.ts';
import { agentDefinition } from '../../support/agent-definitions.ts';
import { ManualClock } from '../../support/manual-clock.ts';

/**
 * A step delivered to the process that committed the run's previous step starts from what that
 * process committed (HLD §4.3): no read of the run or its transcript. Two engines over one store
 * stand for two processes (two Lambda instances of the step worker).
 */

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
  max_steps: 5,
  max_tokens_per_step: 256,
  timeout_seconds: 900,
});

const reply = (content: string): AssistantMessage => ({ role: 'assistant', content });
const echo = (text: string, id: string): AssistantMessage => ({
  role: 'assistant',
  content: null,
  tool_calls: [{ id, type: 'function', function: { name: 'echo', arguments: JSON.stringify({ text }) } }],
});

async function harness(turns: AssistantMessage[]) {
  const clock = new ManualClock();
  const now = () => clock.date();
  const store = new InMemoryRunStateStore({ now });
  const reads: string[] = [];
  // The store as both processes reach it, noting the reads a step could skip.
  const runs = new Proxy(store, {
    get(target, name) {
      if (name === 'getRun' || name === 'readTranscript') {
        reads.push(name === 'getRun' ? 'run' : 'transcript');
      }
      const value: unknown = Reflect.get(target, name, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  }) as RunStatePort;
  const queue = new InMemoryStepQueue();
  const agents = new InMemoryAgentRegistry({ now });
  await agents.put(auth, agent);
  const tools = new ToolCatalog({
    registry: new InMemoryToolRegistry({ now }),
    memory: new InMemoryMemoryStore({ now }),
    fetch: createSafeFetch(),
    secrets: new InMemoryToolSecrets(),
  });
  const script = [...turns];
  const sent: ChatMessage[][] = [];
  const models: ModelPort = {
    async invoke(_auth, modelRef, request) {
      sent.push(request.messages);
      const next = script.shift() ?? reply('(script ended)');
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
  const sink = { publish: async () => undefined };
  const process = () =>
    createStepEngine({
      runs,
      queue,
      agents,
      models,
      tools,
      sink,
      now,
      reportFailure: () => undefined,
      warn: () => undefined,
    });
  const service = createRunService({
    runs: store,
    queue,
    agents,
    sink,
    reportFailure: () => undefined,
    now,
    newRunId: () => newRunId(clock.now()),
    idempotencyTtlSeconds: 86_400,
  });
  const { run } = await service.createRun(
    auth,
    { agent_id: 'helper', input: { messages: [{ role: 'user', content: 'hi' }] } },
    undefined,
  );
  /** Delivers the next queued step to `engine`. */
  async function deliver(engine: ReturnType<typeof process>): Promise<StepOutcome> {
    const [task] = queue.take();
    if (task?.kind !== 'run.step') throw new Error('no step was queued');
    return engine.execute(task.auth, { runId: task.run_id, step: task.step, attempt: 1, maxAttempts: 3 });
  }
  return { store, process, deliver, reads, sent, queue, runId: run.run_id };
}

describe('steps of a run delivered to the process that committed its previous step', () => {
  it('returns each step done after one read of the run and none of its transcript, sending what the store holds', async () => {
    const h = await harness([echo('one', 'call_1'), echo('two', 'call_2'), reply('done')]);
    const worker = h.process();
    for (let step = 1; step <= 3; step += 1) expect((await h.deliver(worker)).status).toBe('done');
    expect(h.reads).toEqual(['run']);
    const run = await h.store.getRun(auth, h.runId);
    expect(run?.status).toBe('completed');
    // The last step sent the model exactly the stored transcript after the instructions and input.
    const stored = await h.store.readTranscript(auth, h.runId);
    expect(h.sent[2]!.slice(2)).toEqual(stored.slice(0, 4));
  });

  it('returns a step done with what another process stored in between, read from the store', async () => {
    const h = await harness([echo('one', 'call_1'), echo('two', 'call_2'), reply('done')]);
    const a = h.process();
    const b = h.process();
    await h.deliver(a);
    await h.deliver(b);
    h.reads.length = 0;
    expect((await h.deliver(a)).reason).toBe('step completed');
    expect(h.reads).toEqual(['run', 'transcript']);
    const third = h.sent[2]!;
    expect(third.map((message) => message.role)).toEqual([
      'system',
      'user',
      'assistant',
      'tool',
      'assistant',
      'tool',
    ]);
    expect(third[4]).toMatchObject({ tool_calls: [{ id: 'call_2' }] });
    expect((await h.store.getRun(auth, h.runId))?.status).toBe('completed');
  });

  it('returns the run over without calling the model when it was canceled after this process committed', async () => {
    const h = await harness([echo('one', 'call_1'), reply('never sent')]);
    const worker = h.process();
    await h.deliver(worker);
    await h.store.commit(auth, h.runId, {
      requireStatus: statesLeadingTo('canceled'),
      status: 'canceled',
      events: [newEvent(eventIds.runTerminal(h.runId), 'run.canceled', { status: 'canceled' })],
    });
    const outcome = await h.deliver(worker);
    expect(outcome).toMatchObject({ status: 'done', continuation: { kind: 'end' } });
    expect(h.sent).toHaveLength(1);
    const events = await h.store.listEvents(auth, h.runId, { after: 0, limit: 100 });
    expect(events.at(-1)?.type).toBe('run.canceled');
    expect(events.map((event) => event.sequence)).toEqual(events.map((_, index) => index + 1));
  });

  it('returns a step done once, from what is stored, when another process wrote events after this one committed', async () => {
    const h = await harness([echo('one', 'call_1'), reply('done')]);
    const worker = h.process();
    await h.deliver(worker);
    // Another process's write the run's steps do not make: it moves the run's sequence on.
    await h.store.commit(auth, h.runId, {
      requireStatus: ['running'],
      events: [newEvent(`${h.runId}:elsewhere`, 'step.started', { step: 2 })],
    });
    h.reads.length = 0;
    expect((await h.deliver(worker)).reason).toBe('step completed');
    expect(h.reads).toContain('run');
    const events = await h.store.listEvents(auth, h.runId, { after: 0, limit: 100 });
    expect(events.map((event) => event.sequence)).toEqual(events.map((_, index) => index + 1));
    expect(events.filter((event) => event.type === 'run.completed')).toHaveLength(1);
  });
});
