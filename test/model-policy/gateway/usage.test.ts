import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTenantScopes, scopes } from '../../../functions/shared/auth/auth-context.ts';
import { startGateway } from '../support/gateway-harness.ts';
import type { Gateway } from '../support/gateway-harness.ts';

let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway();
});

afterAll(async () => {
  await gateway.close();
});

type Totals = {
  calls: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cost_usd: number;
};

async function call(token: string, requestId: string, text: string, runId?: string) {
  const response = await gateway.call('POST', '/v1/models/local%2Fecho:invoke', token, {
    request_id: requestId,
    messages: [{ role: 'user', content: text }],
    ...(runId === undefined ? {} : { attribution: { run_id: runId, step: 1 } }),
  });
  expect(response.status).toBe(200);
  return response.body['usage'] as { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

describe('GET /v1/usage', () => {
  it('reports the tenant by day and month, by principal, and by run', async () => {
    const alice = await gateway.token('metered', {
      subject: 'alice',
      scopes: [...defaultTenantScopes, scopes.usageReadAll],
    });
    const bob = await gateway.token('metered', { subject: 'bob' });
    const a1 = await call(alice, 'a1', 'one two', 'run_a');
    const a2 = await call(alice, 'a2', 'three', 'run_a');
    const b1 = await call(bob, 'b1', 'four five six');
    const all = a1.total_tokens + a2.total_tokens + b1.total_tokens;

    for (const window of ['day', 'month']) {
      const report = await gateway.call('GET', `/v1/usage?window=${window}`, alice);
      expect(report.status).toBe(200);
      expect(report.body).toMatchObject({ object: 'usage', tenant_id: 'metered', window });
      expect(report.body['totals']).toMatchObject({ calls: 3, total_tokens: all, cost_usd: 0 });
      const rows = report.body['by_principal'] as (Totals & { principal_id: string })[];
      expect(rows.map((row) => [row.principal_id, row.calls]).sort()).toEqual([
        ['alice', 2],
        ['bob', 1],
      ]);
    }

    const onlyBob = await gateway.call('GET', '/v1/usage?window=day&principal=bob', alice);
    expect(onlyBob.body['totals']).toMatchObject({ calls: 1, total_tokens: b1.total_tokens });
    expect(onlyBob.body['by_principal']).toMatchObject([{ principal_id: 'bob', calls: 1 }]);
    const nobody = await gateway.call('GET', '/v1/usage?window=day&principal=nobody', alice);
    expect(nobody.body['totals']).toMatchObject({ calls: 0, total_tokens: 0 });
    expect(nobody.body['by_principal']).toEqual([]);

    const run = await gateway.call('GET', '/v1/usage?run_id=run_a', alice);
    expect(run.body).toMatchObject({
      object: 'usage.run',
      run_id: 'run_a',
      totals: { calls: 2, total_tokens: a1.total_tokens + a2.total_tokens },
    });
  });

  it('shows the tenant budgets with what is spent', async () => {
    const token = await gateway.token('budgeted');
    const usage = await call(token, 'x1', 'hello');
    const report = await gateway.call('GET', '/v1/usage', token);
    const budgets = report.body['budgets'] as {
      scope: string;
      period: string;
      spent_tokens: number;
      limit_tokens: number;
    }[];
    expect(budgets.map((budget) => `${budget.scope}/${budget.period}`).sort()).toEqual([
      'tenant/day',
      'tenant/month',
    ]);
    expect(
      budgets.every((budget) => budget.spent_tokens === usage.total_tokens && budget.limit_tokens > 0),
    ).toBe(true);
  });

  it('keeps tenants apart', async () => {
    const other = await gateway.token('someone-else');
    const report = await gateway.call('GET', '/v1/usage?window=month', other);
    expect(report.body['totals']).toMatchObject({ calls: 0, total_tokens: 0 });
    expect(report.body['by_principal']).toEqual([]);
  });

  it('rejects a date that does not match the window', async () => {
    const response = await gateway.call(
      'GET',
      '/v1/usage?window=day&date=2025-06',
      await gateway.token('metered'),
    );
    expect(response.status).toBe(400);
    expect(response.body['error']).toMatchObject({ details: { fields: [{ field: 'date' }] } });
  });

  it('shows a member without usage:read:all only its own usage', async () => {
    const carol = await gateway.token('own-usage', { subject: 'carol' });
    const dave = await gateway.token('own-usage', { subject: 'dave' });
    const c1 = await call(carol, 'c1', 'one two');
    await call(dave, 'd1', 'three four five');

    const own = await gateway.call('GET', '/v1/usage?window=day', carol);
    expect(own.status).toBe(200);
    expect(own.body['totals']).toMatchObject({ calls: 1, total_tokens: c1.total_tokens });
    expect(own.body['by_principal']).toMatchObject([{ principal_id: 'carol', calls: 1 }]);
    const named = await gateway.call('GET', '/v1/usage?window=day&principal=carol', carol);
    expect(named.body['totals']).toMatchObject({ calls: 1 });

    const other = await gateway.call('GET', '/v1/usage?window=day&principal=dave', carol);
    expect(other.status).toBe(403);
    expect(other.body['error']).toMatchObject({ code: 'forbidden' });
  });

  it('returns a member without usage:read:all only its own calls of a run, and another principal’s run as an unknown one', async () => {
    const erin = await gateway.token('own-run-usage', { subject: 'erin' });
    const frank = await gateway.token('own-run-usage', { subject: 'frank' });
    const e1 = await call(erin, 'e1', 'one two', 'run_erin');
    await call(frank, 'f1', 'three four five', 'run_frank');
    const f2 = await call(frank, 'f2', 'six', 'run_shared');
    const e2 = await call(erin, 'e2', 'seven eight', 'run_shared');

    const own = await gateway.call('GET', '/v1/usage?run_id=run_erin', erin);
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({
      run_id: 'run_erin',
      totals: { calls: 1, total_tokens: e1.total_tokens },
    });

    const foreign = await gateway.call('GET', '/v1/usage?run_id=run_frank', erin);
    const unknown = await gateway.call('GET', '/v1/usage?run_id=run_nobody', erin);
    expect(foreign.status).toBe(200);
    expect(unknown.status).toBe(200);
    expect({ ...foreign.body, run_id: 'x' }).toEqual({ ...unknown.body, run_id: 'x' });
    expect(foreign.body['totals']).toMatchObject({ calls: 0, total_tokens: 0, cost_usd: 0 });

    const shared = await gateway.call('GET', '/v1/usage?run_id=run_shared', erin);
    expect(shared.body['totals']).toMatchObject({ calls: 1, total_tokens: e2.total_tokens });

    const admin = await gateway.token('own-run-usage', {
      subject: 'grace',
      scopes: [...defaultTenantScopes, scopes.usageReadAll],
    });
    const whole = await gateway.call('GET', '/v1/usage?run_id=run_shared', admin);
    expect(whole.body['totals']).toMatchObject({ calls: 2, total_tokens: e2.total_tokens + f2.total_tokens });
    const frankRun = await gateway.call('GET', '/v1/usage?run_id=run_frank', admin);
    expect(frankRun.body['totals']).toMatchObject({ calls: 1 });
  });

  it('requires the usage:read scope', async () => {
    const token = await gateway.token('metered', { scopes: ['models:invoke'] });
    expect((await gateway.call('GET', '/v1/usage', token)).status).toBe(403);
  });
});
