import type { TenantModelPolicy } from '../schemas/tenant-policy.ts';

/** A tenant's stored model policy and its change history marker. */
export type StoredTenantPolicy = {
  policy: TenantModelPolicy;
  version: number;
  updated_at: string;
  updated_by: string;
};

/** Where operators' per-tenant model policies live. */
export interface TenantPolicyStorePort {
  /** The tenant's own policy, or `undefined` when it has none. */
  get(tenantId: string): Promise<StoredTenantPolicy | undefined>;
  /** Stores the tenant's policy, bumping its version. */
  put(tenantId: string, policy: TenantModelPolicy, updatedBy: string, now: Date): Promise<StoredTenantPolicy>;
}
