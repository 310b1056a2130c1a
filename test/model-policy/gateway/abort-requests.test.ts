import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  ModelProvider,
  ProviderRequest,
  ProviderResult,
  ProviderStreamChunk,
} from '../../../functions/model-policy/ports/model-provider-port.ts';
import { ModelPolicyClient } from '../../../functions/orchestrator/adapters/model-policy/model-policy-client.ts';
import type { AuthContext } from '../../../functions/shared/auth/auth-context.ts';
import { policyWithBudgets, startGateway } from '../support/gateway-harness.ts';
import type { Gateway } from '../support/gateway-harness.ts';

/** A backend that answers only when its call is aborted or a minute passed; it tells when a call is in flight. */
class SlowBackend implements ModelProvider {
  readonly kind = 'slow';
  inFlight = 0;
  aborted = 0;

  async complete(request: ProviderRequest): Promise<ProviderResult> {
    this.inFlight += 1;
    try {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 60_000);
        request.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      if (request.signal.aborted) {
        this.aborted += 1;
        throw request.signal.reason;
      }
      return {
        message: { role: 'assistant', content: 'late' },
        finish_reason: 'stop',
        usage: { prompt_tokens: 10, completion_tokens: 1 },
      };
    } finally {
      this.inFlight -= 1;
    }
  }

  // eslint-disable-next-line require-yield
  async *stream(): AsyncIterable<ProviderStreamChunk> {
    throw new Error('not streamed here');
  }
}

const backend = new SlowBackend();
let gateway: Gateway;
const limitTokens = 5_000;

beforeAll(async () => {
  gateway = await startGateway({ adapters: { providerFactory: async () => backend } });
});

afterAll(async () => {
  await gateway.close();
});

async function setPolicy(tenantId: string): Promise<void> {
  const put = await gateway.call(
    'PUT',
    `/v1/admin/tenants/${tenantId}/model-policy`,
    await gateway.operatorToken(),
    policyWithBudgets([{ scope: 'tenant', period: 'total', limit_usd: 10, limit_tokens: limitTokens }]),
  );
  expect(put.status).toBe(200);
}

type Budget = { spent_tokens: number; reserved_tokens: number };

async function tenantBudget(token: string): Promise<Budget> {
  const report = await gateway.call('GET', '/v1/usage?window=month', token);
  const budget = (report.body['budgets'] as Budget[])[0]!;
  // Budgets are never exceeded: what is spent and reserved stays within the limit.
  expect(budget.spent_tokens + budget.reserved_tokens).toBeLessThanOrEqual(limitTokens);
  return budget;
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const abortPath = (requestId: string) => `/v1/models/requests/${encodeURIComponent(requestId)}:abort`;

describe('aborting an in-flight model call (HLD §5.3)', () => {
  it('stops a slow buffered call asked to stop, releasing its reservation at once; another tenant cannot', async () => {
    await setPolicy('abort-a');
    await setPolicy('abort-b');
    const tokenA = await gateway.token('abort-a');
    const tokenB = await gateway.token('abort-b');
    const requestId = 'run_abort/step-1';
    // A buffered invoke, as the Orchestrator makes it: its caller's going away never reaches the function.
    const invoked = gateway.call('POST', '/v1/models/local%2Fecho:invoke', tokenA, {
      request_id: requestId,
      messages: [{ role: 'user', content: 'take your time' }],
      max_tokens: 2_000,
    });
    await until(() => backend.inFlight === 1);
    const held = await tenantBudget(tokenA);
    expect(held.reserved_tokens).toBeGreaterThan(2_000);

    // Another tenant's abort of that id is the same 404 as an unknown id's, and changes nothing.
    const foreign = await gateway.call('POST', abortPath(requestId), tokenB);
    expect(foreign.status).toBe(404);
    const unknown = await gateway.call('POST', abortPath('run_abort/step-9'), tokenA);
    expect(unknown.status).toBe(404);
    expect((foreign.body['error'] as { code: string }).code).toBe('not_found');
    expect((foreign.body['error'] as { message: string }).message).toBe(
      (unknown.body['error'] as { message: string }).message,
    );
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(backend.inFlight).toBe(1);
    expect((await tenantBudget(tokenA)).reserved_tokens).toBe(held.reserved_tokens);

    const askedAt = Date.now();
    const aborted = await gateway.call('POST', abortPath(requestId), tokenA);
    expect(aborted.status).toBe(202);
    expect(aborted.body).toEqual({
      object: 'model.request.abort',
      request_id: requestId,
      abort_requested: true,
    });
    const answer = await invoked;
    // Ended within a poll or two, long before the backend's 30 s deadline.
    expect(Date.now() - askedAt).toBeLessThan(6_000);
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(backend.aborted).toBe(1);
    const after = await tenantBudget(tokenA);
    expect(after).toMatchObject({ reserved_tokens: 0, spent_tokens: 0 });
    // Nothing is left to stop, and the tenant's whole budget is free again.
    expect((await gateway.call('POST', abortPath(requestId), tokenA)).status).toBe(404);
    expect((await tenantBudget(tokenB)).reserved_tokens).toBe(0);
  }, 40_000);

  it("frees what the Orchestrator's client abandoned: its invoke aborted, then abort() of the request id", async () => {
    await setPolicy('abort-c');
    const token = await gateway.token('abort-c');
    const auth: AuthContext = {
      tenant_id: 'abort-c',
      principal: { id: 'user-abort-c', type: 'user' },
      scopes: [],
      policy_context: {},
    };
    const client = new ModelPolicyClient({
      baseUrl: gateway.url,
      issuer: gateway.auth.tokens,
      timeoutMs: 60_000,
      actor: 'agent-orchestrator',
    });
    const requestId = 'run_client/step-1';
    const run = new AbortController();
    const invoked = client.invoke(
      auth,
      'local/echo',
      { request_id: requestId, messages: [{ role: 'user', content: 'take your time' }], max_tokens: 2_000 },
      { signal: run.signal },
    );
    await until(() => backend.inFlight === 1);
    run.abort();
    await expect(invoked).rejects.toThrow();
    // The front never told the function its caller left: the call and its reservation still run.
    expect(backend.inFlight).toBe(1);
    expect((await tenantBudget(token)).reserved_tokens).toBeGreaterThan(2_000);
    await client.abort(auth, requestId);
    await until(() => backend.inFlight === 0, 6_000);
    await until(async () => (await tenantBudget(token)).reserved_tokens === 0, 2_000);
    expect(await tenantBudget(token)).toMatchObject({ reserved_tokens: 0, spent_tokens: 0 });
    // Nothing in flight any more: the client's abort is a no-op, not an error.
    await expect(client.abort(auth, requestId)).resolves.toBeUndefined();
  }, 40_000);
});
