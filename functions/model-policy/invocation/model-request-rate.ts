import type {
  RateBucket,
  RateDecision,
  RateLimit,
  RateLimiterPort,
} from '../../shared/limits/limiter-port.ts';
import { rateLimited } from '../../shared/limits/rate-limit-headers.ts';
import type { RateLimitedError } from '../../shared/errors/agentos-error.ts';
import { storageKeys } from '../../shared/storage/keys.ts';
import type { TenantQuotas } from '../../shared/tenancy/tenant-schemas.ts';
import { defaultTenantQuotas } from '../../shared/tenancy/tenant-schemas.ts';

/**
 * The tenant's model call bucket (`model_requests_per_second`, `model_request_burst`; the defaults
 * for a tenant registered before those quotas existed).
 */
export function modelRequestRateOf(quotas: TenantQuotas): RateLimit {
  return {
    rate: quotas.model_requests_per_second ?? defaultTenantQuotas.model_requests_per_second,
    periodSeconds: 1,
    burst: quotas.model_request_burst ?? defaultTenantQuotas.model_request_burst,
  };
}

/** The tenant's model call bucket, for a store write that takes it along (HLD §10.2). */
export function modelRequestBucket(tenantId: string, limit: RateLimit): RateBucket {
  return { key: storageKeys.tenantLimit(tenantId, 'model-request-rate'), limit };
}

/** The refusal of a model call by the tenant's bucket (`tenant_model_request_rate`), wherever it was taken. */
export function modelRequestRefusal(limit: RateLimit, decision: RateDecision): RateLimitedError {
  return rateLimited(
    'tenant_model_request_rate',
    `The tenant may make ${limit.rate} model calls per second (${limit.burst} at once); retry later`,
    decision.retryAfterSeconds,
    decision,
  );
}

/**
 * Takes one model call from the tenant's bucket (HLD §5.2, §10.2), in the node's table like the
 * Orchestrator's run creation bucket, so every function instance shares it.
 *
 * @throws RateLimitedError (`tenant_model_request_rate`) when the bucket is empty
 */
export async function takeModelRequest(
  limiter: RateLimiterPort,
  tenantId: string,
  limit: RateLimit,
): Promise<RateDecision> {
  return refusedOrAllowed(limit, await limiter.take(modelRequestBucket(tenantId, limit).key, limit));
}

/**
 * Refuses a model call at once, before the policy read or anything else, when this instance
 * already knows the tenant's bucket is empty (HLD §10.2: a flood past the rate costs the shared
 * table nothing).
 *
 * @throws RateLimitedError (`tenant_model_request_rate`) when the bucket is known to be empty
 */
export function refuseKnownModelFlood(limiter: RateLimiterPort, tenantId: string, limit: RateLimit): void {
  const known = limiter.knownRefusal(modelRequestBucket(tenantId, limit).key, limit);
  if (known !== undefined) refusedOrAllowed(limit, known);
}

function refusedOrAllowed(limit: RateLimit, decision: RateDecision): RateDecision {
  if (!decision.allowed) throw modelRequestRefusal(limit, decision);
  return decision;
}
