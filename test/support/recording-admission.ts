import type { AdmissionPort } from '../../functions/shared/tenancy/admission-port.ts';
import type { TenantDirectoryPort } from '../../functions/shared/tenancy/tenant-directory-port.ts';

/** An admission over `directory` that caches nothing and records which tenants were forgotten. */
export function admissionOver(directory: TenantDirectoryPort): AdmissionPort & { forgotten: string[] } {
  const forgotten: string[] = [];
  return {
    forgotten,
    admit: async (token) => {
      const tenant = await directory.getTenant(token.auth.tenant_id);
      if (tenant === undefined) throw new Error(`unknown tenant ${token.auth.tenant_id}`);
      return tenant;
    },
    tenant: (tenantId) => directory.getTenant(tenantId),
    forget: (tenantId) => {
      forgotten.push(tenantId);
    },
  };
}
