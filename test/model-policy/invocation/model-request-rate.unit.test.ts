import { describe, expect, it } from 'vitest';
import {
  modelRequestRateOf,
  refuseKnownModelFlood,
  takeModelRequest,
} from '../../../functions/model-policy/invocation/model-request-rate.ts';
import { InMemoryRateLimiter } from '../../../functions/shared/limits/adapters/in-memory-limits.ts';
import { RateLimitedError } from '../../../functions/shared/errors/agentos-error.ts';
import type { TenantQuotas } from '../../../functions/shared/tenancy/tenant-schemas.ts';
import { defaultTenantQuotas } from '../../../functions/shared/tenancy/tenant-schemas.ts';
import { ManualClock } from '../../support/manual-clock.ts';

describe('modelRequestRateOf', () => {
  it('returns the tenant’s own model call bucket', () => {
    expect(
      modelRequestRateOf({ ...defaultTenantQuotas, model_requests_per_second: 5, model_request_burst: 9 }),
    ).toEqual({ rate: 5, periodSeconds: 1, burst: 9 });
  });

  it('returns the default bucket for a tenant registered before the quota existed', () => {
    const older: TenantQuotas = { ...defaultTenantQuotas };
    delete older.model_requests_per_second;
    delete older.model_request_burst;
    expect(modelRequestRateOf(older)).toEqual({
      rate: defaultTenantQuotas.model_requests_per_second,
      periodSeconds: 1,
      burst: defaultTenantQuotas.model_request_burst,
    });
  });
});

describe('takeModelRequest', () => {
  it('throws when the bucket is empty, naming the limit, per tenant', async () => {
    const limiter = new InMemoryRateLimiter({ clock: new ManualClock() });
    const limit = { rate: 1, periodSeconds: 1, burst: 2 };
    expect((await takeModelRequest(limiter, 'acme', limit)).remaining).toBe(1);
    expect((await takeModelRequest(limiter, 'acme', limit)).remaining).toBe(0);
    const refusal = await takeModelRequest(limiter, 'acme', limit).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(RateLimitedError);
    expect((refusal as RateLimitedError).details).toMatchObject({ limit: 'tenant_model_request_rate' });
    expect((refusal as RateLimitedError).headers).toMatchObject({
      'ratelimit-limit': '2',
      'ratelimit-remaining': '0',
    });
    expect((await takeModelRequest(limiter, 'other', limit)).allowed).toBe(true);
  });
});

describe('refuseKnownModelFlood', () => {
  it('throws at once for a tenant whose bucket is known empty, and passes otherwise', async () => {
    const limiter = new InMemoryRateLimiter({ clock: new ManualClock() });
    const limit = { rate: 1, periodSeconds: 1, burst: 1 };
    expect(() => refuseKnownModelFlood(limiter, 'acme', limit)).not.toThrow();
    await takeModelRequest(limiter, 'acme', limit);
    expect(() => refuseKnownModelFlood(limiter, 'acme', limit)).toThrow(RateLimitedError);
    expect(() => refuseKnownModelFlood(limiter, 'other', limit)).not.toThrow();
  });
});
