import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentOsClient } from '../../cli/client/agentos-client.ts';
import { defaultTenantScopes } from '../../functions/shared/auth/auth-context.ts';
import type { TenantSpec } from '../../functions/shared/tenancy/tenant-schemas.ts';
import { operatorClient, startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';
import { allEvents, scriptedInput, waitForRun } from '../support/run-events.ts';

/**
 * A tenant's tool limits as its runs meet them over real HTTP and the emulator (HLD §5.2): a tool
 * outside its `tool_allowlist` fails with `not_allowed`, a call past its `tool_calls_per_minute`
 * fails with the retryable `rate_limited`; the model sees the error and the run goes on.
 */
let node: TestNode;
let operator: AgentOsClient;

type Attempt = { attempt: number; output: string; is_error: boolean; error?: { code: string } };
type Step = { step: number; tool_calls: { name: string; attempts: Attempt[] }[] };

/** Retries a retryable tool error once, then hands it to the model: a retry shows which errors are retryable. */
const retryOnce = {
  on_tool_error: {
    action: 'retry' as const,
    max_attempts: 2,
    backoff_ms: 0,
    on_exhausted: 'continue' as const,
  },
};

beforeAll(async () => {
  node = await startTestNode({ functionEnv: { AGENTOS_TENANT_CACHE_SECONDS: '0' } });
  operator = await operatorClient(node);
});

afterAll(async () => {
  await node.stop();
});

/** Seeds `tenantId`, applies `spec` through the operator API and returns a client of the tenant. */
async function tenantWith(tenantId: string, spec: TenantSpec): Promise<AgentOsClient> {
  await node.seed(tenantId, retryOnce);
  const patched = await operator.request('PATCH', `/v1/admin/tenants/${tenantId}`, { body: spec });
  expect(patched.status).toBe(200);
  return new AgentOsClient(
    node.node.orchestratorUrl,
    await node.auth.token(tenantId, { scopes: [...defaultTenantScopes] }),
  );
}

async function completedRun(
  client: AgentOsClient,
  turns: unknown[],
): Promise<{ runId: string; steps: Step[] }> {
  const created = await client.createRun(scriptedInput('sample-agent', turns));
  expect(created.status).toBe(201);
  const runId = created.body.run_id;
  const done = await waitForRun(
    client,
    runId,
    (run) => run.status === 'completed' || run.status === 'failed',
    60_000,
  );
  expect(done).toMatchObject({ status: 'completed' });
  const steps = await client.request<{ data: Step[] }>('GET', `/v1/runs/${runId}/steps`);
  return { runId, steps: steps.body.data };
}

const echo = (text: string) => ({ name: 'echo', arguments: { text } });

describe("a tenant's tool allow-list", () => {
  it('fails a call to a tool outside it with not_allowed, in the run’s steps and events, and the run goes on', async () => {
    const fenced = await tenantWith('fenced', { tool_allowlist: ['calculator'] });
    const { runId, steps } = await completedRun(fenced, [{ tool_calls: [echo('hi')] }, { reply: 'done' }]);

    // Not retried: another attempt cannot help; the model hears of it and the run goes on.
    expect(steps[0]?.tool_calls.map((call) => [call.name, call.attempts.map((a) => a.error?.code)])).toEqual([
      ['echo', ['not_allowed']],
    ]);
    expect(steps[0]?.tool_calls[0]?.attempts[0]).toMatchObject({
      is_error: true,
      output: expect.stringContaining("not in the tenant's tool allow-list"),
    });
    const completed = (await allEvents(fenced, runId)).filter((event) => event.type === 'tool.completed');
    expect(completed.map((event) => event.data)).toEqual([
      expect.objectContaining({
        name: 'echo',
        is_error: true,
        error: expect.objectContaining({ code: 'not_allowed' }),
      }),
    ]);
  });

  it('lets a tool in it run', async () => {
    const open = await tenantWith('open', { tool_allowlist: ['echo'] });
    const { steps } = await completedRun(open, [{ tool_calls: [echo('hi')] }, { reply: 'done' }]);
    expect(steps[0]?.tool_calls[0]?.attempts).toEqual([
      expect.objectContaining({ output: 'hi', is_error: false }),
    ]);
  });
});

describe("a tenant's tool-call rate", () => {
  it('fails the call past tool_calls_per_minute with the retryable rate_limited', async () => {
    const chatty = await tenantWith('chatty', { quotas: { tool_calls_per_minute: 1 } });
    const { runId, steps } = await completedRun(chatty, [
      { tool_calls: [echo('one')] },
      { tool_calls: [echo('two')] },
      { reply: 'done' },
    ]);
    // Retryable: the agent's retry policy tries it again (the minute's bucket is still empty).
    expect(
      steps.map((step) => step.tool_calls.map((call) => call.attempts.map((a) => a.error?.code ?? 'ok'))),
    ).toEqual([[['ok']], [['rate_limited', 'rate_limited']], []]);
    expect(steps[1]?.tool_calls[0]?.attempts[0]?.output).toContain('1 tool calls per minute');
    const completed = (await allEvents(chatty, runId)).filter((event) => event.type === 'tool.completed');
    expect(
      completed.map((event) => [event.data['step'], event.data['attempt'], event.data['is_error']]),
    ).toEqual([
      [1, 1, false],
      [2, 1, true],
      [2, 2, true],
    ]);
  });
});
