import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTenantScopes, scopes } from '../../../functions/shared/auth/auth-context.ts';
import { testTenantDirectory } from '../../support/test-tenants.ts';
import { startGateway } from '../support/gateway-harness.ts';
import type { Gateway } from '../support/gateway-harness.ts';

let gateway: Gateway;

/** A bucket of three calls that refills far slower than any test runs, so nothing refills mid-test. */
const tightQuotas = { model_requests_per_second: 0.001, model_request_burst: 3 };

beforeAll(async () => {
  gateway = await startGateway();
  const directory = testTenantDirectory(gateway.tableName);
  for (const tenantId of ['rate-limited', 'rate-neighbour']) {
    await directory.createTenant(
      { tenant_id: tenantId, quotas: tightQuotas },
      { by: 'test', at: new Date() },
    );
  }
});

afterAll(async () => {
  await gateway.close();
});

function chat(token: string, requestId: string, stream: boolean): Promise<Response> {
  return fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'x-request-id': requestId,
    },
    body: JSON.stringify({ model: 'local/echo', stream, messages: [{ role: 'user', content: 'hello' }] }),
  });
}

function invoke(token: string, requestId: string) {
  return gateway.call('POST', '/v1/models/local%2Fecho:invoke', token, {
    request_id: requestId,
    messages: [{ role: 'user', content: 'hello' }],
  });
}

function bucketOf(headers: Headers): { limit: string | null; remaining: string | null; reset: number } {
  return {
    limit: headers.get('ratelimit-limit'),
    remaining: headers.get('ratelimit-remaining'),
    reset: Number(headers.get('ratelimit-reset')),
  };
}

describe('the tenant model request rate', () => {
  it('returns RateLimit headers on accepted calls, streamed or not, then 429 with Retry-After and the limit named; another tenant is unaffected', async () => {
    const token = await gateway.token('rate-limited');

    const whole = await chat(token, 'rate-1', false);
    expect(whole.status).toBe(200);
    expect(bucketOf(whole.headers)).toMatchObject({ limit: '3', remaining: '2' });
    expect(bucketOf(whole.headers).reset).toBeGreaterThan(0);
    expect(((await whole.json()) as { object: string }).object).toBe('chat.completion');

    const streamed = await chat(token, 'rate-2', true);
    expect(streamed.status).toBe(200);
    expect(streamed.headers.get('content-type')).toContain('text/event-stream');
    expect(bucketOf(streamed.headers)).toMatchObject({ limit: '3', remaining: '1' });
    expect(await streamed.text()).toContain('data: [DONE]');

    const native = await invoke(token, 'rate-3');
    expect(native.status).toBe(200);
    expect(bucketOf(native.headers)).toMatchObject({ limit: '3', remaining: '0' });

    const refused = await chat(token, 'rate-4', false);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('x-should-retry')).toBe('true');
    expect(bucketOf(refused.headers)).toMatchObject({ limit: '3', remaining: '0' });
    const envelope = (await refused.json()) as { error: Record<string, unknown> };
    expect(envelope.error).toMatchObject({
      code: 'rate_limited',
      details: { limit: 'tenant_model_request_rate', retry_after_seconds: expect.any(Number) },
    });
    expect(String(envelope.error['message'])).toContain('model calls per second');

    const refusedStream = await chat(token, 'rate-5', true);
    expect(refusedStream.status).toBe(429);
    expect(
      ((await refusedStream.json()) as { error: { details: { limit: string } } }).error.details.limit,
    ).toBe('tenant_model_request_rate');

    const refusedNative = await invoke(token, 'rate-6');
    expect(refusedNative.status).toBe(429);
    expect(refusedNative.headers.get('retry-after')).not.toBeNull();
    expect(refusedNative.body['error']).toMatchObject({
      code: 'rate_limited',
      details: { limit: 'tenant_model_request_rate' },
    });

    // The refused calls reached no backend and metered nothing.
    const reader = await gateway.token('rate-limited', {
      scopes: [...defaultTenantScopes, scopes.usageReadAll],
    });
    const usage = await gateway.call('GET', '/v1/usage?window=day', reader);
    expect(usage.body['totals']).toMatchObject({ calls: 3 });
    // A refused call's claim and reservation, written while its bucket was being taken, are released.
    const budgets = usage.body['budgets'] as { reserved_tokens: number }[];
    expect(budgets.length).toBeGreaterThan(0);
    expect(budgets.every((budget) => budget.reserved_tokens === 0)).toBe(true);

    const neighbour = await chat(await gateway.token('rate-neighbour'), 'rate-1', false);
    expect(neighbour.status).toBe(200);
    expect(bucketOf(neighbour.headers)).toMatchObject({ limit: '3', remaining: '2' });
    await neighbour.json();
  });
});
