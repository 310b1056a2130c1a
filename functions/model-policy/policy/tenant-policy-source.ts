import { BoundedCache } from '../../shared/cache/bounded-cache.ts';
import type { StoredTenantPolicy, TenantPolicyStorePort } from '../ports/tenant-policy-store-port.ts';
import type { TenantModelPolicy } from '../schemas/tenant-policy.ts';

/** A tenant's policy in force, and whether it is the tenant's own or the node default. */
export type EffectivePolicy = { policy: TenantModelPolicy; stored: StoredTenantPolicy | undefined };

/**
 * The policy in force for a tenant: its stored policy, or the node default (which has finite
 * budgets, so no tenant is ever unlimited). Reads are cached per process for `cacheMs`, bounding how
 * long another process may act on an older policy, and for at most `maxTenants` tenants; so a warm
 * call reads no policy from the store before its model is called. A change made through this
 * process applies at once.
 */
export class TenantPolicySource {
  readonly #store: TenantPolicyStorePort;
  readonly #defaultPolicy: TenantModelPolicy;
  readonly #cacheMs: number;
  readonly #now: () => Date;
  readonly #cache: BoundedCache<string, EffectivePolicy>;

  constructor(
    store: TenantPolicyStorePort,
    defaultPolicy: TenantModelPolicy,
    cacheMs: number,
    now: () => Date = () => new Date(),
    /** The most tenants whose policy one process keeps; the least recently used go first. */
    maxTenants = 10_000,
  ) {
    this.#store = store;
    this.#defaultPolicy = defaultPolicy;
    this.#cacheMs = cacheMs;
    this.#now = now;
    this.#cache = new BoundedCache({
      maxEntries: maxTenants,
      maxAgeMs: Math.max(0, cacheMs - 1),
      now: () => this.#now().getTime(),
    });
  }

  /** The node default, in force for tenants without a policy of their own. */
  get defaultPolicy(): TenantModelPolicy {
    return this.#defaultPolicy;
  }

  /** The policy in force for a tenant. */
  async forTenant(tenantId: string): Promise<EffectivePolicy> {
    const cached = this.#cacheMs > 0 ? this.#cache.get(tenantId) : undefined;
    if (cached !== undefined) return cached;
    const stored = await this.#store.get(tenantId);
    const value: EffectivePolicy = { policy: stored?.policy ?? this.#defaultPolicy, stored };
    if (this.#cacheMs > 0) this.#cache.set(tenantId, value);
    return value;
  }

  /** Stores a tenant's policy; this process applies it at once. */

  async update(
    tenantId: string,
    policy: TenantModelPolicy,
    updatedBy: string,
    now: Date,
  ): Promise<StoredTenantPolicy> {
    const stored = await this.#store.put(tenantId, policy, updatedBy, now);
    this.#cache.delete(tenantId);
    return stored;
  }
}
