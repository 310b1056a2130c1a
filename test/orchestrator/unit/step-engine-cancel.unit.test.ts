import { describe, expect, it } from 'vitest';
import { InMemoryAgentRegistry } from '../../../functions/orchestrator/adapters/in-memory/in-memory-agent-registry.ts';
import { InMemoryMemoryStore } from '../../../functions/orchestrator/adapters/in-memory/in-memory-memory-store.ts';
import { InMemoryRunStateStore } from '../../../functions/orchestrator/adapters/in-memory/in-memory-run-state.ts';
import { InMemoryStepQueue } from '../../../functions/orchestrator/adapters/in-memory/in-memory-step-queue.ts';
import { InMemoryToolRegistry } from '../../../functions/orchestrator/adapters/in-memory/in-memory-tool-registry.ts';
import { InMemoryToolSecrets } from '../../../functions/orchestrator/adapters/in-memory/in-memory-tools.ts';
import { ToolCatalog } from '../../../functions/orchestrator/adapters/tools/tool-catalog.ts';
import type { ModelPort } from '../../../functions/orchestrator/ports/model-port.ts';
import { newRunId } from '../../../functions/orchestrator/runtime/run-id.ts';
import { createRunService } from '../../../functions/orchestrator/runtime/run-service.ts';
import { createStepEngine } from '../../../functions/orchestrator/runtime/step-engine.ts';
import type { AuthContext } from '../../../functions/shared/auth/auth-context.ts';
import type { ModelInvokeResponse } from '../../../functions/shared/contracts/model-invocation.ts';
import { createSafeFetch } from '../../../functions/shared/net/safe-fetch.ts';
import { agentDefinition } from '../../support/agent-definitions.ts';
import { ManualClock } from '../../support/manual-clock.ts';

const auth: AuthContext = {
  tenant_id: 'acme',
  principal: { id: 'user-1', type: 'user' },
  scopes: ['runs:read', 'runs:write'],
  policy_context: {},
};

/**
 * The engine on in-memory adapters, with a model call that only ends when its signal aborts (or
 * when the test lets it answer): a slow backend holding the call's budget reservation.
 */
async function harness() {
  const clock = new ManualClock();
  const now = () => clock.date();
  const runs = new InMemoryRunStateStore({ now });
  const queue = new InMemoryStepQueue();
  const agents = new InMemoryAgentRegistry({ now });
  await agents.put(
    auth,
    agentDefinition({ agent_id: 'helper', name: 'Helper', model_ref: 'local/slow', instructions: '' }),
  );
  const tools = new ToolCatalog({
    registry: new InMemoryToolRegistry({ now }),
    memory: new InMemoryMemoryStore({ now }),
    fetch: createSafeFetch(),
    secrets: new InMemoryToolSecrets(),
  });
  let called!: () => void;
  const inCall = new Promise<void>((resolve) => (called = resolve));
  let answer: ((response: ModelInvokeResponse) => void) | undefined;
  const seen: { aborted: boolean } = { aborted: false };
  const models: ModelPort = {
    invoke(_auth, modelRef, request, options) {
      called();
      return new Promise((resolve, reject) => {
        answer = resolve;
        options?.signal?.addEventListener('abort', () => {
          seen.aborted = true;
          reject(new Error('the client went away'));
        });
        void modelRef;
        void request;
      });
    },
  };
  const sink = { publish: async () => undefined };
  const failures: string[] = [];
  const engine = createStepEngine({
    runs,
    queue,
    agents,
    models,
    tools,
    sink,
    now,
    reportFailure: (message) => failures.push(message),
    warn: (message) => failures.push(message),
    runCheckMs: 5,
  });
  const service = createRunService({
    runs,
    queue,
    agents,
    sink,
    reportFailure: (message) => failures.push(message),
    now,
    newRunId: () => newRunId(clock.now()),
    idempotencyTtlSeconds: 86_400,
  });
  const { run } = await service.createRun(
    auth,
    { agent_id: 'helper', input: { messages: [{ role: 'user', content: 'hi' }] } },
    undefined,
  );
  const [task] = queue.take();
  const step = task?.kind === 'run.step' ? task.step : 1;
  return {
    runs,
    service,
    runId: run.run_id,
    seen,
    inCall,
    answer: (response: ModelInvokeResponse) => answer?.(response),
    execute: () => engine.execute(auth, { runId: run.run_id, step, attempt: 1, maxAttempts: 3 }),
    events: async () =>
      (await runs.listEvents(auth, run.run_id, { after: 0, limit: 1000 })).map((e) => e.type),
  };
}

describe('canceling a run during its model call', () => {
  it('aborts the model call and ends the step without writing anything', async () => {
    const h = await harness();
    const outcome = h.execute();
    await h.inCall;
    await h.service.cancelRun(auth, h.runId);
    expect(await outcome).toEqual({
      status: 'done',
      reason: 'run left running (canceled)',
      continuation: { kind: 'end' },
    });
    expect(h.seen.aborted).toBe(true);
    const run = await h.runs.getRun(auth, h.runId);
    expect(run).toMatchObject({ status: 'canceled', steps_completed: 0 });
    expect(run?.usage).toMatchObject({ prompt_tokens: 0, completion_tokens: 0 });
    const events = await h.events();
    expect(events.at(-1)).toBe('run.canceled');
    expect(events).not.toContain('model.completed');
    expect(events).not.toContain('step.completed');
  });

  it('leaves the model call of a run that goes on alone until it answers', async () => {
    const h = await harness();
    const outcome = h.execute();
    await h.inCall;
    // Several checks of the run pass while the call is in flight.
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(h.seen.aborted).toBe(false);
    h.answer({
      request_id: 'r',
      correlation_id: 'c',
      output: { message: { role: 'assistant', content: 'done' }, finish_reason: 'stop' },
      usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, cost_usd: 0 },
      route: { model_ref: 'local/slow', provider: 'local', model: 'slow', hops: [] },
      policy: { decision: 'allow', redactions: {}, rules: [] },
      replayed: false,
    });
    expect((await outcome).reason).toBe('step completed');
    expect((await h.runs.getRun(auth, h.runId))?.status).toBe('completed');
    expect(h.seen.aborted).toBe(false);
  });
});
