// INTERIM (replaced by the directory-backed admission before this branch lands): admits every tenant.
import type { AdmissionPort } from './admission-port.ts';
import { defaultTenantQuotas } from './tenant-schemas.ts';
import type { Tenant } from './tenant-schemas.ts';

const at = new Date(0).toISOString();
const open = (tenantId: string): Tenant => ({
  object: 'tenant',
  tenant_id: tenantId,
  display_name: tenantId,
  status: 'active',
  disabled_reason: null,
  quotas: defaultTenantQuotas,
  tool_allowlist: null,
  version: 1,
  created_at: at,
  updated_at: at,
  updated_by: 'interim',
});

export const interimAdmission: AdmissionPort = {
  admit: async (token) => open(token.auth.tenant_id),
  tenant: async (tenantId) => open(tenantId),
  forget: () => undefined,
};
