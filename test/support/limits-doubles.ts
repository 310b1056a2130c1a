import type {
  RateDecision,
  RateLimit,
  RateLimiterPort,
  SlotDecision,
  SlotLease,
  SlotPoolPort,
} from '../../functions/shared/limits/limiter-port.ts';
import type { AdmissionPort } from '../../functions/shared/tenancy/admission-port.ts';
import { defaultTenantQuotas } from '../../functions/shared/tenancy/tenant-schemas.ts';
import type { Tenant, TenantQuotas } from '../../functions/shared/tenancy/tenant-schemas.ts';

/** A GCRA token bucket in memory on a clock the test moves (a stand-in for the limiter adapters). */
export class TestRateLimiter implements RateLimiterPort {
  readonly #tat = new Map<string, number>();
  private readonly now: () => number;

  constructor(now: () => number) {
    this.now = now;
  }

  async take(key: string, limit: RateLimit): Promise<RateDecision> {
    const now = this.now();
    const interval = (limit.periodSeconds * 1000) / limit.rate;
    const tolerance = interval * (limit.burst - 1);
    const tat = Math.max(this.#tat.get(key) ?? now, now);
    const next = tat + interval;
    if (next - now > tolerance + interval) {
      return {
        allowed: false,
        limit: limit.burst,
        remaining: 0,
        resetSeconds: (tat - now) / 1000,
        retryAfterSeconds: (next - now - tolerance - interval) / 1000,
      };
    }
    this.#tat.set(key, next);
    return {
      allowed: true,
      limit: limit.burst,
      remaining: Math.floor((tolerance + interval - (next - now)) / interval),
      resetSeconds: (next - now) / 1000,
      retryAfterSeconds: 0,
    };
  }
}

/** Slots with expiring leases in memory on a clock the test moves. */
export class TestSlotPool implements SlotPoolPort {
  readonly #pools = new Map<string, Map<string, number>>();
  private readonly now: () => number;

  constructor(now: () => number) {
    this.now = now;
  }

  #live(pool: string): Map<string, number> {
    const leases = this.#pools.get(pool) ?? new Map<string, number>();
    for (const [holder, expires] of leases) if (expires <= this.now()) leases.delete(holder);
    this.#pools.set(pool, leases);
    return leases;
  }

  async acquire(pool: string, holder: string, capacity: number, leaseSeconds: number): Promise<SlotDecision> {
    const leases = this.#live(pool);
    if (!leases.has(holder) && leases.size >= capacity) {
      const first = Math.min(...leases.values());
      return {
        acquired: false,
        inUse: leases.size,
        capacity,
        retryAfterSeconds: Math.max(1, Math.ceil((first - this.now()) / 1000)),
      };
    }
    leases.set(holder, this.now() + leaseSeconds * 1000);
    return { acquired: true, inUse: leases.size, capacity };
  }

  async renew(pool: string, holder: string, leaseSeconds: number): Promise<boolean> {
    const leases = this.#live(pool);
    if (!leases.has(holder)) return false;
    leases.set(holder, this.now() + leaseSeconds * 1000);
    return true;
  }

  async release(pool: string, holder: string): Promise<void> {
    this.#live(pool).delete(holder);
  }

  async holders(pool: string): Promise<SlotLease[]> {
    return [...this.#live(pool)]
      .map(([holder, expiresAtMs]) => ({ holder, expiresAtMs }))
      .sort((a, b) => a.expiresAtMs - b.expiresAtMs);
  }
}

/** A tenant record for tests, with the default quotas unless given. */
export function testTenant(
  tenantId: string,
  overrides: Omit<Partial<Tenant>, 'quotas'> & { quotas?: Partial<TenantQuotas> } = {},
): Tenant {
  return {
    object: 'tenant',
    tenant_id: tenantId,
    display_name: tenantId,
    status: 'active',
    disabled_reason: null,
    tool_allowlist: null,
    version: 1,
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:00.000Z',
    updated_by: 'test',
    ...overrides,
    quotas: { ...defaultTenantQuotas, ...overrides.quotas },
  };
}

/** An admission double over a map of tenants the test may change. */
export function testAdmission(tenants: Map<string, Tenant>): AdmissionPort {
  return {
    admit: async (token) => {
      const tenant = tenants.get(token.auth.tenant_id);
      if (tenant === undefined) throw new Error(`unknown tenant ${token.auth.tenant_id}`);
      return tenant;
    },
    tenant: async (tenantId) => tenants.get(tenantId),
    forget: () => undefined,
  };
}
