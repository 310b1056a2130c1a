import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAiServer } from '../../fakes/fake-openai-server.ts';
import type { FakeOpenAiServer } from '../../fakes/fake-openai-server.ts';
import { policyWithBudgets, pricedCatalog, startGateway } from '../support/gateway-harness.ts';
import type { Gateway } from '../support/gateway-harness.ts';

let upstream: FakeOpenAiServer;
let gateway: Gateway;

beforeAll(async () => {
  upstream = await startFakeOpenAiServer();
  gateway = await startGateway({
    catalog: pricedCatalog(
      {
        backends: { fake: { kind: 'openai', base_url: upstream.url, timeout_ms: 10_000 } },
        models: { 'openai/gpt-4o-mini': { backend: 'fake', model: 'gpt-4o-mini' } },
      },
      { input_usd_per_mtok: 1, output_usd_per_mtok: 2 },
    ),
  });
});

afterAll(async () => {
  await gateway.close();
  await upstream.close();
});

type Report = {
  totals: { total_tokens: number; cost_usd: number };
  budgets: { spent_tokens: number; spent_usd: number; reserved_tokens: number }[];
};

describe('a backend that reports more usage than was reserved', () => {
  it('never records budget spend past the limit, and still meters the true usage', async () => {
    const limitTokens = 200;
    const limitUsd = 0.0003;
    const put = await gateway.call(
      'PUT',
      '/v1/admin/tenants/overrun/model-policy',
      await gateway.operatorToken(),
      policyWithBudgets([
        { scope: 'tenant', period: 'total', limit_usd: limitUsd, limit_tokens: limitTokens },
      ]),
    );
    expect(put.status).toBe(200);
    const token = await gateway.token('overrun');
    // The reservation is squeezed to what the budget has left; the backend then reports far more.
    upstream.enqueue({
      kind: 'reply',
      text: 'long answer',
      usage: { prompt_tokens: 150, completion_tokens: 400 },
    });
    const response = await gateway.call('POST', '/v1/models/openai%2Fgpt-4o-mini:invoke', token, {
      request_id: 'overrun-1',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 1000,
    });
    expect(response.status).toBe(200);
    expect(response.body['usage']).toMatchObject({ prompt_tokens: 150, completion_tokens: 400 });
    const report = (await gateway.call('GET', '/v1/usage?window=day', token)).body as Report;
    const [budget] = report.budgets;
    expect(budget!.spent_tokens).toBeLessThanOrEqual(limitTokens);
    expect(budget!.spent_usd).toBeLessThanOrEqual(limitUsd);
    expect(budget!.reserved_tokens).toBe(0);
    expect(report.totals.total_tokens).toBe(550);
    expect(report.totals.cost_usd).toBeCloseTo((150 * 1 + 400 * 2) / 1e6, 9);
  });
});
