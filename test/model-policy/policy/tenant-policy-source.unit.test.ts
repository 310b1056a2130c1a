import { describe, expect, it } from 'vitest';
import { TenantPolicySource } from '../../../functions/model-policy/policy/tenant-policy-source.ts';
import type {
  StoredTenantPolicy,
  TenantPolicyStorePort,
} from '../../../functions/model-policy/ports/tenant-policy-store-port.ts';
import { TenantModelPolicySchema } from '../../../functions/model-policy/schemas/tenant-policy.ts';
import type { TenantModelPolicy } from '../../../functions/model-policy/schemas/tenant-policy.ts';
import { defaultTenantPolicy } from '../../../functions/model-policy/composition/default-policy.ts';
import { ManualClock } from '../../support/manual-clock.ts';

const defaults = TenantModelPolicySchema.parse(defaultTenantPolicy);

/** A policy store in memory that counts its reads. */
class CountingStore implements TenantPolicyStorePort {
  reads = 0;
  readonly #policies = new Map<string, StoredTenantPolicy>();

  async get(tenantId: string): Promise<StoredTenantPolicy | undefined> {
    this.reads += 1;
    return this.#policies.get(tenantId);
  }

  async put(tenantId: string, policy: TenantModelPolicy, updatedBy: string, now: Date) {
    const stored = {
      policy,
      version: (this.#policies.get(tenantId)?.version ?? 0) + 1,
      updated_at: now.toISOString(),
      updated_by: updatedBy,
    };
    this.#policies.set(tenantId, stored);
    return stored;
  }
}

describe('TenantPolicySource', () => {
  it('returns a cached policy without reading the store until its time to live has passed', async () => {
    const clock = new ManualClock();
    const store = new CountingStore();
    const source = new TenantPolicySource(store, defaults, 2_000, () => clock.date());
    await source.forTenant('acme');
    clock.advance(1_500);
    expect((await source.forTenant('acme')).policy).toEqual(defaults);
    expect(store.reads).toBe(1);
    // Another process changed the policy: this one applies it once its cached copy has expired.
    await store.put('acme', { ...defaults, max_tokens: 7 }, 'operator', clock.date());
    expect((await source.forTenant('acme')).policy.max_tokens).toBe(defaults.max_tokens);
    clock.advance(600);
    expect((await source.forTenant('acme')).policy.max_tokens).toBe(7);
    expect(store.reads).toBe(2);
  });

  it('returns a policy changed through this process at once', async () => {
    const clock = new ManualClock();
    const store = new CountingStore();
    const source = new TenantPolicySource(store, defaults, 60_000, () => clock.date());
    await source.forTenant('acme');
    await source.update('acme', { ...defaults, max_tokens: 9 }, 'operator', clock.date());
    expect((await source.forTenant('acme')).policy.max_tokens).toBe(9);
  });

  it('keeps at most its bound of tenants, reading the least recently used one again', async () => {
    const clock = new ManualClock();
    const store = new CountingStore();
    const source = new TenantPolicySource(store, defaults, 60_000, () => clock.date(), 2);
    await source.forTenant('a');
    await source.forTenant('b');
    await source.forTenant('a');
    await source.forTenant('c');
    expect(store.reads).toBe(3);
    await source.forTenant('a');
    await source.forTenant('c');
    expect(store.reads).toBe(3);
    await source.forTenant('b');
    expect(store.reads).toBe(4);
  });

  it('reads the store on every call when caching is off', async () => {
    const store = new CountingStore();
    const source = new TenantPolicySource(store, defaults, 0);
    await source.forTenant('acme');
    await source.forTenant('acme');
    expect(store.reads).toBe(2);
  });
});
