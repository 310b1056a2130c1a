import type { AdmissionPort } from '../../functions/shared/tenancy/admission-port.ts';
import { TenantDirectoryConflictError } from '../../functions/shared/tenancy/tenant-directory-port.ts';
import type {
  ChangeStamp,
  TenantDirectoryPort,
} from '../../functions/shared/tenancy/tenant-directory-port.ts';
import { defaultTenantQuotas } from '../../functions/shared/tenancy/tenant-schemas.ts';
import type {
  CreateTenantRequest,
  IssuedToken,
  Principal,
  PrincipalSpec,
  Tenant,
  TenantAccess,
  TenantSpec,
} from '../../functions/shared/tenancy/tenant-schemas.ts';

/**
 * A minimal in-memory TenantDirectoryPort for handler unit tests: records in maps, cursors are the
 * last key seen. Not the node's adapter (that one has its own conformance suite).
 */
export class TenantDirectoryDouble implements TenantDirectoryPort {
  readonly tenants = new Map<string, Tenant>();
  readonly principals = new Map<string, Principal>();
  readonly tokens = new Map<string, IssuedToken>();
  readonly revokedBefore = new Map<string, number>();

  async createTenant(request: CreateTenantRequest, stamp: ChangeStamp): Promise<Tenant> {
    if (this.tenants.has(request.tenant_id))
      throw new TenantDirectoryConflictError(`${request.tenant_id} exists`, 'exists');
    const at = stamp.at.toISOString();
    const tenant: Tenant = {
      object: 'tenant',
      tenant_id: request.tenant_id,
      display_name: request.display_name ?? request.tenant_id,
      status: 'active',
      disabled_reason: null,
      quotas: { ...defaultTenantQuotas, ...request.quotas },
      tool_allowlist: request.tool_allowlist ?? null,
      version: 1,
      created_at: at,
      updated_at: at,
      updated_by: stamp.by,
    };
    this.tenants.set(tenant.tenant_id, tenant);
    return tenant;
  }

  async getTenant(tenantId: string): Promise<Tenant | undefined> {
    return this.tenants.get(tenantId);
  }

  async listTenants(page: { limit: number; cursor?: string }) {
    return this.#page([...this.tenants.values()], (tenant) => tenant.tenant_id, page, 'tenants');
  }

  async updateTenant(
    tenantId: string,
    change: TenantSpec & { status?: Tenant['status']; disabled_reason?: string | null },
    stamp: ChangeStamp,
    expectedVersion?: number,
  ): Promise<Tenant> {
    const tenant = this.tenants.get(tenantId);
    if (tenant === undefined) throw new TenantDirectoryConflictError(`${tenantId} missing`, 'missing');
    if (expectedVersion !== undefined && expectedVersion !== tenant.version)
      throw new TenantDirectoryConflictError(`${tenantId} moved on`, 'version');
    const updated: Tenant = {
      ...tenant,
      ...(change.display_name === undefined ? {} : { display_name: change.display_name }),
      ...(change.tool_allowlist === undefined ? {} : { tool_allowlist: change.tool_allowlist }),
      ...(change.status === undefined ? {} : { status: change.status }),
      ...(change.disabled_reason === undefined ? {} : { disabled_reason: change.disabled_reason }),
      quotas: { ...tenant.quotas, ...change.quotas },
      version: tenant.version + 1,
      updated_at: stamp.at.toISOString(),
      updated_by: stamp.by,
    };
    this.tenants.set(tenantId, updated);
    return updated;
  }

  async getAccess(tenantId: string): Promise<TenantAccess | undefined> {
    const tenant = this.tenants.get(tenantId);
    if (tenant === undefined) return undefined;
    const revokedTokens: Record<string, number> = {};
    for (const token of this.tokens.values())
      if (token.tenant_id === tenantId && token.revoked_at !== null)
        revokedTokens[token.token_id] = Date.parse(token.expires_at) / 1000;
    const principalsRevokedBefore: Record<string, number> = {};
    for (const [key, epoch] of this.revokedBefore) {
      const [owner, principalId] = key.split('/');
      if (owner === tenantId && principalId !== undefined) principalsRevokedBefore[principalId] = epoch;
    }
    return { tenant, revokedTokens, principalsRevokedBefore };
  }

  async putPrincipal(
    tenantId: string,
    principalId: string,
    spec: PrincipalSpec,
    stamp: ChangeStamp,
  ): Promise<Principal> {
    if (!this.tenants.has(tenantId)) throw new TenantDirectoryConflictError(`${tenantId} missing`, 'missing');
    const key = `${tenantId}/${principalId}`;
    const at = stamp.at.toISOString();
    const before = this.principals.get(key);
    const principal: Principal = {
      object: 'principal',
      tenant_id: tenantId,
      principal_id: principalId,
      type: spec.type,
      display_name: spec.display_name ?? principalId,
      scopes: [...spec.scopes],
      status: before?.status ?? 'active',
      created_at: before?.created_at ?? at,
      updated_at: at,
    };
    this.principals.set(key, principal);
    return principal;
  }

  async getPrincipal(tenantId: string, principalId: string): Promise<Principal | undefined> {
    return this.principals.get(`${tenantId}/${principalId}`);
  }

  async listPrincipals(tenantId: string, page: { limit: number; cursor?: string }) {
    const own = [...this.principals.values()].filter((principal) => principal.tenant_id === tenantId);
    return this.#page(own, (principal) => principal.principal_id, page, 'principals');
  }

  async disablePrincipal(tenantId: string, principalId: string, stamp: ChangeStamp): Promise<boolean> {
    const key = `${tenantId}/${principalId}`;
    const principal = this.principals.get(key);
    if (principal === undefined) return false;
    this.principals.set(key, { ...principal, status: 'disabled', updated_at: stamp.at.toISOString() });
    this.revokedBefore.set(key, Math.floor(stamp.at.getTime() / 1000));
    return true;
  }

  async recordToken(token: IssuedToken): Promise<void> {
    this.tokens.set(`${token.tenant_id}/${token.token_id}`, token);
  }

  async listTokens(tenantId: string, page: { limit: number; cursor?: string; principalId?: string }) {
    const own = [...this.tokens.values()].filter(
      (token) =>
        token.tenant_id === tenantId &&
        (page.principalId === undefined || token.principal_id === page.principalId),
    );
    return this.#page(own, (token) => token.token_id, page, 'tokens');
  }

  async revokeToken(tenantId: string, tokenId: string, stamp: ChangeStamp): Promise<IssuedToken | undefined> {
    const key = `${tenantId}/${tokenId}`;
    const token = this.tokens.get(key);
    if (token === undefined) return undefined;
    const revoked = { ...token, revoked_at: token.revoked_at ?? stamp.at.toISOString() };
    this.tokens.set(key, revoked);
    return revoked;
  }

  #page<T, K extends string>(
    items: T[],
    keyOf: (item: T) => string,
    page: { limit: number; cursor?: string },
    name: K,
  ): { [P in K]: T[] } & { next: string | null } {
    const sorted = items
      .sort((a, b) => keyOf(a).localeCompare(keyOf(b)))
      .filter((item) => page.cursor === undefined || keyOf(item) > page.cursor);
    const data = sorted.slice(0, page.limit);
    const next = sorted.length > page.limit ? keyOf(data[data.length - 1]!) : null;
    return { [name]: data, next } as { [P in K]: T[] } & { next: string | null };
  }
}

/** An admission over the double that caches nothing and records which tenants were forgotten. */
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
