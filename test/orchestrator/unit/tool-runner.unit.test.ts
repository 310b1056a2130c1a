import { describe, expect, it } from 'vitest';
import { InMemoryRunStateStore } from '../../../functions/orchestrator/adapters/in-memory/in-memory-run-state.ts';
import type { AgentDefinition } from '../../../functions/orchestrator/ports/agent-registry-port.ts';
import type { RunRecord } from '../../../functions/orchestrator/ports/run-state-port.ts';
import type { ToolPort, ToolResult } from '../../../functions/orchestrator/ports/tool-port.ts';
import { toolErrorResult } from '../../../functions/orchestrator/ports/tool-port.ts';
import { AgentSpecSchema } from '../../../functions/orchestrator/schemas/agent.ts';
import type { AgentSpec } from '../../../functions/orchestrator/schemas/agent.ts';
import { createToolRunner } from '../../../functions/orchestrator/runtime/tool-runner.ts';
import type { AuthContext } from '../../../functions/shared/auth/auth-context.ts';
import type { AssistantMessage } from '../../../functions/shared/contracts/chat.ts';
import { ManualClock } from '../../support/manual-clock.ts';

const auth: AuthContext = {
  tenant_id: 'acme',
  principal: { id: 'u', type: 'user' },
  scopes: [],
  policy_context: {},
};

function agentOf(spec: Partial<AgentSpec>): AgentDefinition {
  return {
    ...AgentSpecSchema.parse({ name: 'a', model_ref: 'local/scripted', ...spec }),
    object: 'agent',
    agent_id: 'a',
    version: 1,
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:00.000Z',
  };
}

const message = (...calls: [string, unknown][]): AssistantMessage => ({
  role: 'assistant',
  content: null,
  tool_calls: calls.map(([name, args], i) => ({
    id: `call_${i}`,
    type: 'function',
    function: { name, arguments: JSON.stringify(args) },
  })),
});

/** The runner on an in-memory run and a tool port answering from `answer`. */
async function setup(answer: (name: string, attempt: number) => ToolResult) {
  const clock = new ManualClock();
  const runs = new InMemoryRunStateStore({ now: () => clock.date() });
  const runId = 'run_01JTESTTOOLRUNNER00000000';
  const at = clock.date().toISOString();
  const record = {
    run_id: runId,
    tenant_id: 'acme',
    agent_id: 'a',
    agent_version: 1,
    mode: 'standard',
    execution_arn: null,
    principal_id: 'u',
    status: 'running',
    input: { messages: [{ role: 'user', content: 'hi' }] },
    output: null,
    error: null,
    metadata: {},
    transcript_messages: 0,
    transcript_bytes: 0,
    steps_completed: 0,
    last_sequence: 0,
    usage: { prompt_tokens: 0, completion_tokens: 0, cost_usd: 0 },
    created_at: at,
    updated_at: at,
    started_at: at,
    ended_at: null,
    scheduled_at: at,
  } as RunRecord;
  await runs.createRun(auth, record, []);
  const counts = new Map<string, number>();
  // A double: each call's answer is scripted by tool name and attempt, which no real tool offers.
  const tools: ToolPort = {
    describe: async () => [],
    invoke: async (_auth, call) => {
      const n = (counts.get(call.name) ?? 0) + 1;
      counts.set(call.name, n);
      return answer(call.name, n);
    },
  };
  const runner = createToolRunner({
    runs,
    tools,
    clock,
    commit: (a, id, change) => runs.commit(a, id, change),
    reportFailure: () => undefined,
  });
  const run = async (agent: AgentDefinition, msg: AssistantMessage) =>
    runner.run({ auth, run: record, agent, step: 1, message: msg, deadlineMs: clock.now() + 60_000 });
  return { run, counts, clock };
}

describe('the tool runner', () => {
  it('returns the pause a wait asks for in a long run, and not_allowed in a standard one', async () => {
    const wait = (): ToolResult => ({ output: 'Resumed', isError: false, suspendSeconds: 3600 });
    const long = await setup(wait);
    const outcome = await long.run(
      agentOf({ tool_ids: ['wait'], run_mode: 'long' }),
      message(['wait', { seconds: 3600 }]),
    );
    expect(outcome.suspendSeconds).toBe(3600);
    // Replayed from the stored event, the pause is the same.
    expect(
      (
        await long.run(
          agentOf({ tool_ids: ['wait'], run_mode: 'long' }),
          message(['wait', { seconds: 3600 }]),
        )
      ).suspendSeconds,
    ).toBe(3600);
    expect(long.counts.get('wait')).toBe(1);

    const standard = await setup(wait);
    const refused = await standard.run(agentOf({ tool_ids: ['wait'] }), message(['wait', { seconds: 5 }]));
    expect(refused.suspendSeconds).toBe(0);
    expect(refused.calls[0]?.attempts[0]?.error).toMatchObject({ code: 'not_allowed' });
    expect(standard.counts.get('wait')).toBeUndefined();
  });

  it('returns a call record per call with its idempotency key and every attempt', async () => {
    const { run } = await setup((name, attempt) =>
      name === 'api' && attempt < 3
        ? toolErrorResult('http_error', 'HTTP 503: busy', { status: 503 })
        : { output: 'fine', isError: false },
    );
    const outcome = await run(
      agentOf({
        tool_ids: ['api', 'echo'],
        on_tool_error: { action: 'retry', max_attempts: 3, backoff_ms: 100, on_exhausted: 'abort' },
      }),
      message(['echo', { text: 'x' }], ['api', {}]),
    );
    expect(outcome.abort).toBeUndefined();
    expect(outcome.messages).toEqual([
      { role: 'tool', tool_call_id: 'call_0', content: 'fine' },
      { role: 'tool', tool_call_id: 'call_1', content: 'fine' },
    ]);
    expect(outcome.calls[1]).toMatchObject({
      tool_call_id: 'call_1',
      name: 'api',
      idempotency_key: 'run_01JTESTTOOLRUNNER00000000/s1/c1',
      attempts: [
        { attempt: 1, is_error: true, error: { code: 'http_error', status: 503 } },
        { attempt: 2, is_error: true, error: { code: 'http_error', status: 503 } },
        { attempt: 3, is_error: false, output: 'fine' },
      ],
    });
  });

  it('hands a non-retryable error to the model without retrying, and aborts naming the tool when retries are spent', async () => {
    const { run, counts } = await setup((name) =>
      name === 'bad'
        ? toolErrorResult('http_error', 'HTTP 404: gone', { status: 404 })
        : toolErrorResult('network_error', 'reset'),
    );
    const policy = { action: 'retry', max_attempts: 2, backoff_ms: 10, on_exhausted: 'abort' } as const;
    const outcome = await run(
      agentOf({ tool_ids: ['bad', 'net'], on_tool_error: policy }),
      message(['bad', {}], ['net', {}]),
    );
    expect(counts.get('bad')).toBe(1);
    expect(counts.get('net')).toBe(2);
    expect(outcome.abort).toEqual({
      code: 'tool_failed',
      message: 'Tool "net" failed with network_error: reset',
    });
  });
});
