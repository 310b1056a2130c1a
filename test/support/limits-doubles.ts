/**
 * Tenants and admission for the unit tier. The limiter and the slot pool are the real in-memory
 * adapters (functions/shared/limits/adapters/in-memory-limits.ts) on a ManualClock.
 */
import type { AdmissionPort } from '../../functions/shared/tenancy/admission-port.ts';
import { defaultTenantQuotas } from '../../functions/shared/tenancy/tenant-schemas.ts';
import type { Tenant, TenantQuotas } from '../../functions/shared/tenancy/tenant-schemas.ts';

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
