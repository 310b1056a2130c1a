import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestKey } from '../../../functions/model-policy/metering/attribution-keys.ts';
import { modelRequestRateOf } from '../../../functions/model-policy/invocation/model-request-rate.ts';
import { defaultTenantScopes, scopes } from '../../../functions/shared/auth/auth-context.ts';
import { DynamoRateLimiter } from '../../../functions/shared/limits/adapters/dynamo-rate-limiter.ts';
import type { RateLimit, RateLimiterPort } from '../../../functions/shared/limits/limiter-port.ts';
import { createDocumentClient } from '../../../functions/shared/storage/dynamo-client.ts';
import { storageKeys } from '../../../functions/shared/storage/keys.ts';
import { defaultTenantQuotas } from '../../../functions/shared/tenancy/tenant-schemas.ts';
import { systemClock } from '../../../functions/shared/timing/clock.ts';
import { testAwsConfig } from '../../support/aws.ts';
import { testTenantDirectory } from '../../support/test-tenants.ts';
import { AdjustableClock, startGateway } from '../support/gateway-harness.ts';
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

/**
 * The gateway's limiter, built once the gateway's table exists, on the gateway's adjustable clock, so
 * a test can let the tenant's bucket refill without waiting for it.
 */
class LimiterOnTable implements RateLimiterPort {
  target: RateLimiterPort | undefined;

  take(key: string, limit: RateLimit) {
    return this.#limiter().take(key, limit);
  }

  knownRefusal(key: string, limit: RateLimit) {
    return this.#limiter().knownRefusal(key, limit);
  }

  #limiter(): RateLimiterPort {
    if (this.target === undefined) throw new Error('the limiter is used before its table exists');
    return this.target;
  }
}

describe('a call refused by the tenant model request rate', () => {
  /** Two calls at once, one more every 100 s of the gateway's clock. */
  const quotas = { model_requests_per_second: 0.01, model_request_burst: 2 };
  const tenantId = 'rate-flooded';
  const clock = new AdjustableClock();
  const limiter = new LimiterOnTable();
  let flooded: Gateway;

  beforeAll(async () => {
    flooded = await startGateway({ now: clock.now, adapters: { limiter } });
    limiter.target = new DynamoRateLimiter(createDocumentClient(testAwsConfig()), flooded.tableName, {
      clock: { ...systemClock, now: () => clock.now().getTime() },
    });
    await testTenantDirectory(flooded.tableName).createTenant(
      { tenant_id: tenantId, quotas },
      { by: 'test', at: new Date() },
    );
  });

  afterAll(async () => {
    await flooded.close();
  });

  function chatOnce(token: string, requestId: string): Promise<Response> {
    return fetch(`${flooded.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'x-request-id': requestId,
      },
      body: JSON.stringify({ model: 'local/echo', messages: [{ role: 'user', content: 'hello' }] }),
    });
  }

  /** The usage records the ledger holds of one request id (one per attempt). */
  async function usageRecordsOf(requestId: string): Promise<number> {
    const found = await createDocumentClient(testAwsConfig()).send(
      new QueryCommand({
        TableName: flooded.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: {
          ':pk': storageKeys.usageRecords(tenantId, requestKey(`user-${tenantId}`, requestId)),
        },
        ConsistentRead: true,
      }),
    );
    return found.Count ?? 0;
  }

  async function usageOfDay(): Promise<{ calls: number; reserved: number[] }> {
    const reader = await flooded.token(tenantId, { scopes: [...defaultTenantScopes, scopes.usageReadAll] });
    const usage = await flooded.call('GET', '/v1/usage?window=day', reader);
    expect(usage.status).toBe(200);
    const budgets = usage.body['budgets'] as { reserved_tokens: number }[];
    return {
      calls: (usage.body['totals'] as { calls: number }).calls,
      reserved: budgets.map((budget) => budget.reserved_tokens),
    };
  }

  it('returns 429 and leaves the usage records and totals as they were, and its request id can be used once the bucket refills', async () => {
    const token = await flooded.token(tenantId);
    const first = await chatOnce(token, 'flood-0');
    expect(first.status).toBe(200);
    await first.json();
    // Reading the usage waits for the gateway's pending settlements (HLD §5.3): records are written then.
    const before = await usageOfDay();
    expect(before.calls).toBe(1);
    expect(await usageRecordsOf('flood-0')).toBe(1);

    // Another instance of the gateway takes the bucket's last call, so this one learns it is empty
    // only from the store, after its claim and reservation are written alongside.
    const elsewhere = new DynamoRateLimiter(createDocumentClient(testAwsConfig()), flooded.tableName);
    const taken = await elsewhere.take(
      storageKeys.tenantLimit(tenantId, 'model-request-rate'),
      modelRequestRateOf({ ...defaultTenantQuotas, ...quotas }),
    );
    expect(taken.allowed).toBe(true);

    const refused = await chatOnce(token, 'flood-1');
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { details: { limit: string } } }).error.details.limit).toBe(
      'tenant_model_request_rate',
    );
    const after = await usageOfDay();
    expect(after.calls).toBe(before.calls);
    expect(after.reserved.every((reserved) => reserved === 0)).toBe(true);
    expect(await usageRecordsOf('flood-1')).toBe(0);

    // The refusal released the request id: once the bucket has a call again, the same id is made.
    clock.advance(150_000);
    const retried = await chatOnce(token, 'flood-1');
    expect(retried.status).toBe(200);
    expect(((await retried.json()) as { object: string }).object).toBe('chat.completion');
    expect((await usageOfDay()).calls).toBe(before.calls + 1);
    expect(await usageRecordsOf('flood-1')).toBe(1);
  });
});
