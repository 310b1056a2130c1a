import { InMemoryAgentRegistry } from '../../functions/orchestrator/adapters/in-memory/in-memory-agent-registry.ts';
import { InMemoryMemoryStore } from '../../functions/orchestrator/adapters/in-memory/in-memory-memory-store.ts';
import { InMemoryStepQueue } from '../../functions/orchestrator/adapters/in-memory/in-memory-step-queue.ts';
import { InMemoryToolSecrets } from '../../functions/orchestrator/adapters/in-memory/in-memory-tools.ts';
import { InMemoryToolRegistry } from '../../functions/orchestrator/adapters/in-memory/in-memory-tool-registry.ts';
import { ToolCatalog } from '../../functions/orchestrator/adapters/tools/tool-catalog.ts';
import { createSafeFetch } from '../../functions/shared/net/safe-fetch.ts';
import { RunEventHub } from '../../functions/orchestrator/events/run-event-hub.ts';
import { followRunEvents } from '../../functions/orchestrator/events/run-event-stream.ts';
import type { ModelPort } from '../../functions/orchestrator/ports/model-port.ts';
import type { RunStatePort } from '../../functions/orchestrator/ports/run-state-port.ts';
import { newRunId } from '../../functions/orchestrator/runtime/run-id.ts';
import { createRunService } from '../../functions/orchestrator/runtime/run-service.ts';
import { createStepEngine } from '../../functions/orchestrator/runtime/step-engine.ts';
import type { AuthContext } from '../../functions/shared/auth/auth-context.ts';
import type { AssistantMessage } from '../../functions/shared/contracts/chat.ts';
import type { Clock } from '../../functions/shared/timing/clock.ts';
import { agentDefinition } from './agent-definitions.ts';
import { ManualClock } from './manual-clock.ts';

/**
 * A model that plays a tool loop by step number (not by the conversation it is sent, which holds
 * only a transcript tail): steps 1 to `toolSteps` each call `echo` with `bytesPerStep` characters,
 * the next one answers `done`. Usage and route look like the local provider's.
 */
function toolLoopModel(toolSteps: number, bytesPerStep: number): ModelPort {
  return {
    async invoke(_auth, modelRef, request) {
      const step = request.attribution?.step ?? 0;
      const text = String(step % 10).repeat(bytesPerStep);
      const message: AssistantMessage =
        step <= toolSteps
          ? {
              role: 'assistant',
              content: null,
              tool_calls: [
                {
                  id: `call_${step}`,
                  type: 'function',
                  function: { name: 'echo', arguments: JSON.stringify({ text }) },
                },
              ],
            }
          : { role: 'assistant', content: 'done' };
      return {
        request_id: request.request_id,
        correlation_id: 'c',
        output: { message, finish_reason: step <= toolSteps ? 'tool_calls' : 'stop' },
        usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, cost_usd: 0 },
        route: { model_ref: modelRef, provider: 'local', model: 'scripted', hops: [] },
        policy: { decision: 'allow', redactions: {}, rules: [] },
        replayed: false,
      };
    },
  };
}

/**
 * Runs a tool loop of `toolSteps` steps plus a final answer through the real run service and step
 * engine on the given run store, delivering every queued step as a worker would.
 */
export async function runToolLoop(
  runs: RunStatePort,
  auth: AuthContext,
  options: { toolSteps: number; bytesPerStep: number },
): Promise<{ runId: string; deliveries: number }> {
  const clock = new ManualClock();
  const now = () => clock.date();
  const queue = new InMemoryStepQueue();
  const agents = new InMemoryAgentRegistry({ now });
  await agents.put(
    auth,
    agentDefinition({
      agent_id: 'looper',
      model_ref: 'local/scripted',
      tool_ids: ['echo'],
      max_steps: 1000,
      max_transcript_bytes: 64 * 1024 * 1024,
    }),
  );
  const tools = new ToolCatalog({
    registry: new InMemoryToolRegistry({ now }),
    memory: new InMemoryMemoryStore({ now }),
    fetch: createSafeFetch(),
    secrets: new InMemoryToolSecrets(),
  });
  const failures: unknown[] = [];
  const engine = createStepEngine({
    runs,
    queue,
    agents,
    models: toolLoopModel(options.toolSteps, options.bytesPerStep),
    tools,
    sink: { publish: async () => undefined },
    now,
    reportFailure: (message, error) => failures.push({ message, error }),
    warn: (message) => failures.push(message),
  });
  const service = createRunService({
    runs,
    queue,
    agents,
    sink: { publish: async () => undefined },
    reportFailure: (message, error) => failures.push({ message, error }),
    now,
    newRunId: () => newRunId(clock.now()),
    idempotencyTtlSeconds: 86_400,
  });
  const { run } = await service.createRun(
    auth,
    { agent_id: 'looper', input: { messages: [{ role: 'user', content: 'loop' }] } },
    undefined,
  );
  let deliveries = 0;
  for (let tasks = queue.take(); tasks.length > 0; tasks = queue.take()) {
    for (const task of tasks) {
      if (task.kind !== 'run.step') continue;
      deliveries += 1;
      const outcome = await engine.execute(task.auth, {
        runId: task.run_id,
        step: task.step,
        attempt: 1,
        maxAttempts: 3,
      });
      if (outcome.status !== 'done') throw new Error(`step ${task.step}: ${outcome.reason}`);
    }
  }
  if (failures.length > 0) throw new Error(`the loop reported failures: ${JSON.stringify(failures)}`);
  return { runId: run.run_id, deliveries };
}

/**
 * The sequences a client following the run's event stream receives, from the start to the terminal
 * event; on a manual clock for an in-memory store, on the real one for a store reached over the network.
 */
export async function streamedSequences(
  runs: RunStatePort,
  auth: AuthContext,
  runId: string,
  clock: Clock = new ManualClock(),
): Promise<number[]> {
  const timing = { pollMinMs: 1, pollMaxMs: 5, keepAliveMs: 15_000, maxDurationMs: 3_600_000, retryMs: 1000 };
  const hub = new RunEventHub({ runs, timing, clock });
  const sequences: number[] = [];
  for await (const frame of followRunEvents({
    runs,
    subscription: hub.subscribe(auth, runId, 0),
    auth,
    runId,
    after: 0,
    initialStatus: 'running',
    timing,
    signal: new AbortController().signal,
    clock,
  })) {
    const id = /^id: (\d+)$/m.exec(frame);
    if (id !== null) sequences.push(Number(id[1]));
  }
  return sequences;
}
