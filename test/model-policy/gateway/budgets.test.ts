import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../../functions/shared/contracts/chat.ts';
import { estimatePromptTokens } from '../../../functions/model-policy/metering/token-estimate.ts';
import { defaultModelCatalog } from '../../../functions/model-policy/composition/default-catalog.ts';
import { policyWithBudgets, pricedCatalog, script, startGateway } from '../support/gateway-harness.ts';
import type { Gateway } from '../support/gateway-harness.ts';

let gateway: Gateway;
let operator: string;

/** A call that spends exactly its reservation: the prompt estimate plus `max_tokens` words. */
const fillMessages: ChatMessage[] = [script({ fill: true }), { role: 'user', content: 'go' }];
const promptTokens = estimatePromptTokens(fillMessages);
const maxTokens = 20;
const perCall = promptTokens + maxTokens;

/** $1 per million input tokens and $2 per million output tokens: 1000 and 2000 nano-USD a token. */
const inputNano = 1000;
const outputNano = 2000;

beforeAll(async () => {
  gateway = await startGateway({
    catalog: {
      ...pricedCatalog(
        {
          ...defaultModelCatalog,
          models: {
            ...defaultModelCatalog.models,
            'priced/scripted': { backend: 'local', model: 'scripted' },
          },
        },
        { input_usd_per_mtok: 0, output_usd_per_mtok: 0 },
      ),
      price_tables: [
        {
          version: 'test-prices-1',
          effective_from: '2024-01-01T00:00:00Z',
          prices: {
            'local/echo': { input_usd_per_mtok: 0, output_usd_per_mtok: 0 },
            'local/scripted': { input_usd_per_mtok: 0, output_usd_per_mtok: 0 },
            'local/embed-small': { input_usd_per_mtok: 0, output_usd_per_mtok: 0 },
            'priced/scripted': { input_usd_per_mtok: 1, output_usd_per_mtok: 2 },
          },
        },
      ],
    },
  });
  operator = await gateway.operatorToken();
});

afterAll(async () => {
  await gateway.close();
});

async function setPolicy(tenantId: string, budgets: unknown[]): Promise<void> {
  const put = await gateway.call(
    'PUT',
    `/v1/admin/tenants/${tenantId}/model-policy`,
    operator,
    policyWithBudgets(budgets),
  );
  expect(put.status).toBe(200);
}

function invoke(
  token: string,
  requestId: string,
  options: { model?: string; maxTokens?: number; runId?: string } = {},
) {
  return gateway.call(
    'POST',
    `/v1/models/${encodeURIComponent(options.model ?? 'local/scripted')}:invoke`,
    token,
    {
      request_id: requestId,
      messages: fillMessages,
      max_tokens: options.maxTokens ?? maxTokens,
      ...(options.runId === undefined ? {} : { attribution: { run_id: options.runId } }),
    },
  );
}

type BudgetStatus = {
  scope: string;
  period: string;
  spent_tokens: number;
  spent_usd: number;
  reserved_tokens: number;
};

async function usage(
  token: string,
): Promise<{ totals: { calls: number; total_tokens: number; cost_usd: number }; budgets: BudgetStatus[] }> {
  const response = await gateway.call('GET', '/v1/usage?window=month', token);
  expect(response.status).toBe(200);
  return response.body as never;
}

describe('budgets', () => {
  it.each([
    ['one budget (a conditional update)', 'crowd', false],
    ['two budgets at once (a transaction)', 'crowd2', true],
  ])(
    'lets at most 10 of 100 concurrent calls through %s that fits 10, and never records more than it',
    async (_case, tenantId, withPrincipalBudget) => {
      const limitTokens = 10 * perCall;
      await setPolicy(tenantId, [
        { scope: 'tenant', period: 'month', limit_usd: 100, limit_tokens: limitTokens },
        ...(withPrincipalBudget ? [{ scope: 'principal', period: 'day', limit_tokens: 1_000_000 }] : []),
      ]);
      const token = await gateway.token(tenantId);
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, index) => invoke(token, `c-${index}`)),
      );
      const succeeded = results.filter((result) => result.status === 200);
      const refused = results.filter((result) => result.status !== 200);
      expect(succeeded.length).toBeLessThanOrEqual(10);
      expect(succeeded.length).toBeGreaterThan(0);
      // Refused calls are told why: over budget (429), or, when the shared emulator is swamped (CI
      // deploys stacks beside this file), that storage could not be reached in time (503, retry).
      // Either way nothing is spent beyond the budget, which the usage checks below hold to.
      const refusals = refused.map((result) => ({
        status: result.status,
        code: (result.body['error'] as { code: string }).code,
      }));
      const allowed = [
        { status: 429, code: 'budget_exceeded' },
        { status: 429, code: 'rate_limited' },
        { status: 503, code: 'dependency_unavailable' },
      ];
      const unexpected = refusals.filter(
        (refusal) => !allowed.some((a) => a.status === refusal.status && a.code === refusal.code),
      );
      expect(unexpected).toEqual([]);
      const report = await usage(token);
      const tenantMonth = report.budgets.find(
        (budget) => budget.scope === 'tenant' && budget.period === 'month',
      )!;
      expect(tenantMonth.spent_tokens).toBeLessThanOrEqual(limitTokens);
      expect(tenantMonth.spent_tokens).toBe(succeeded.length * perCall);
      expect(report.budgets.every((budget) => budget.reserved_tokens === 0)).toBe(true);
      expect(report.totals).toMatchObject({
        calls: succeeded.length,
        total_tokens: succeeded.length * perCall,
        cost_usd: 0,
      });
      // Under a swamped emulator the burst's refusals may all be 503s; calls one at a time then
      // show it is the budget that refuses, exactly when what the burst spent leaves no room.
      let after = 0;
      let last = await invoke(token, 'after-0');
      while (last.status === 200 && after < 10) {
        after += 1;
        last = await invoke(token, `after-${after}`);
      }
      expect(succeeded.length + after).toBe(10);
      expect(last.status).toBe(429);
      expect((last.body['error'] as { code: string }).code).toBe('budget_exceeded');
    },
  );

  it('answers budget_exceeded with the budget that ran out', async () => {
    await setPolicy('small', [{ scope: 'tenant', period: 'day', limit_usd: 100, limit_tokens: perCall }]);
    const token = await gateway.token('small');
    expect((await invoke(token, 'small-1')).status).toBe(200);
    const refused = await invoke(token, 'small-2');
    expect(refused.status).toBe(429);
    expect(refused.body['error']).toMatchObject({
      code: 'budget_exceeded',
      details: { budget: { scope: 'tenant', period: 'day' } },
    });
  });

  it('lowers max_tokens to what the budget has left instead of refusing', async () => {
    await setPolicy('squeezed', [
      { scope: 'tenant', period: 'month', limit_usd: 100, limit_tokens: promptTokens + 7 },
    ]);
    const response = await invoke(await gateway.token('squeezed'), 'squeezed-1');
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      output: { finish_reason: 'length' },
      usage: { completion_tokens: 7 },
      policy: { max_tokens_applied: 7 },
    });
  });

  it('bills the versioned price of the model that answered and stops at a cost budget', async () => {
    const costPerCall = (promptTokens * inputNano + maxTokens * outputNano) / 1e9;
    const limitUsd = Number((costPerCall * 3.5).toFixed(9));
    await setPolicy('priced', [
      { scope: 'tenant', period: 'month', limit_usd: limitUsd, limit_tokens: 1_000_000 },
    ]);
    const token = await gateway.token('priced');
    const statuses: number[] = [];
    for (let index = 0; index < 5; index += 1)
      statuses.push((await invoke(token, `priced-${index}`, { model: 'priced/scripted' })).status);
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    const report = await usage(token);
    const budget = report.budgets.find((line) => line.scope === 'tenant')!;
    expect(budget.spent_usd).toBeLessThanOrEqual(limitUsd);
    const paid = statuses.filter((status) => status === 200).length;
    expect(report.totals.cost_usd).toBeCloseTo(budget.spent_usd, 9);
    expect(paid).toBeGreaterThanOrEqual(3);
    expect(statuses.at(-1)).toBe(429);
  });

  it('keeps each principal within its own budget', async () => {
    await setPolicy('team', [
      { scope: 'tenant', period: 'month', limit_usd: 100, limit_tokens: 1_000_000 },
      { scope: 'principal', period: 'day', limit_tokens: 2 * perCall },
    ]);
    const alice = await gateway.token('team', { subject: 'alice' });
    const bob = await gateway.token('team', { subject: 'bob' });
    expect((await invoke(alice, 'a-1')).status).toBe(200);
    expect((await invoke(alice, 'a-2')).status).toBe(200);
    expect((await invoke(alice, 'a-3')).body['error']).toMatchObject({
      code: 'budget_exceeded',
      details: { budget: { scope: 'principal' } },
    });
    expect((await invoke(bob, 'b-1')).status).toBe(200);
  });

  it('keeps each run within its own budget', async () => {
    await setPolicy('runs', [
      { scope: 'tenant', period: 'month', limit_usd: 100, limit_tokens: 1_000_000 },
      { scope: 'run', period: 'total', limit_tokens: perCall },
    ]);
    const token = await gateway.token('runs');
    expect((await invoke(token, 'r1-1', { runId: 'run_one' })).status).toBe(200);
    expect((await invoke(token, 'r1-2', { runId: 'run_one' })).body['error']).toMatchObject({
      code: 'budget_exceeded',
      details: { budget: { scope: 'run' } },
    });
    expect((await invoke(token, 'r2-1', { runId: 'run_two' })).status).toBe(200);
  });
});
