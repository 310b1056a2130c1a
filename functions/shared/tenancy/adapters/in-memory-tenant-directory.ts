import type { Cursor } from '../tenant-paging.ts';
import { pageBy } from '../tenant-paging.ts';
import { TenantDirectoryConflictError } from '../tenant-directory-port.ts';
import type { ChangeStamp, TenantDirectoryPort } from '../tenant-directory-port.ts';
import {
  accessOf,
  changedTenant,
  epochSeconds,
  maxDisabledPrincipals,
  newPrincipal,
  newTenant,
  prunedRevocations,
  revokedToken,
  principalWithStatus,
  tokenRevocationUntil,
  versionMessage,
  withPrincipalStatus,
} from '../tenant-records.ts';
import type { Revocations, TenantChange, TenantDirectoryOptions } from '../tenant-records.ts';
import type {
  CreateTenantRequest,
  IssuedToken,
  Principal,
  PrincipalSpec,
  Tenant,
  TenantAccess,
} from '../tenant-schemas.ts';

type Entry = {
  tenant: Tenant;
  revocations: Revocations;
  principals: Map<string, Principal>;
  tokens: Map<string, IssuedToken>;
};

/**
 * The tenant directory in process memory (unit tests, in-process apps). Records are copied in and
 * out, so a caller never holds the directory's own objects.
 */
export class InMemoryTenantDirectory implements TenantDirectoryPort {
  readonly #tenants = new Map<string, Entry>();
  readonly #now: () => Date;
  readonly #maxDisabledPrincipals: number;

  constructor(options: TenantDirectoryOptions = {}) {
    this.#now = options.now ?? (() => new Date());
    this.#maxDisabledPrincipals = options.maxDisabledPrincipals ?? maxDisabledPrincipals;
  }

  async createTenant(request: CreateTenantRequest, stamp: ChangeStamp): Promise<Tenant> {
    if (this.#tenants.has(request.tenant_id))
      throw new TenantDirectoryConflictError(`Tenant ${request.tenant_id} already exists`, 'exists');
    const tenant = newTenant(request, stamp);
    this.#tenants.set(tenant.tenant_id, {
      tenant,
      revocations: { tokens: {}, principals: {}, disabledPrincipals: [] },
      principals: new Map(),
      tokens: new Map(),
    });
    return structuredClone(tenant);
  }

  async getTenant(tenantId: string): Promise<Tenant | undefined> {
    const entry = this.#tenants.get(tenantId);
    return entry === undefined ? undefined : structuredClone(entry.tenant);
  }

  async listTenants(page: {
    limit: number;
    cursor?: Cursor;
  }): Promise<{ tenants: Tenant[]; next: Cursor | null }> {
    const { items, next } = pageBy(
      [...this.#tenants.values()].map((entry) => entry.tenant),
      (tenant) => tenant.tenant_id,
      page,
    );
    return { tenants: structuredClone(items), next };
  }

  async updateTenant(
    tenantId: string,
    change: TenantChange,
    stamp: ChangeStamp,
    expectedVersion?: number,
  ): Promise<Tenant> {
    const entry = this.#entry(tenantId);
    if (expectedVersion !== undefined && expectedVersion !== entry.tenant.version)
      throw new TenantDirectoryConflictError(
        `Tenant ${tenantId} is at version ${entry.tenant.version}, not ${expectedVersion}`,
        'version',
      );
    entry.tenant = changedTenant(entry.tenant, change, stamp);
    entry.revocations = prunedRevocations(entry.revocations, epochSeconds(stamp.at));
    return structuredClone(entry.tenant);
  }

  async getAccess(tenantId: string): Promise<TenantAccess | undefined> {
    const entry = this.#tenants.get(tenantId);
    if (entry === undefined) return undefined;
    return structuredClone(accessOf(entry.tenant, entry.revocations, epochSeconds(this.#now())));
  }

  async putPrincipal(
    tenantId: string,
    principalId: string,
    spec: PrincipalSpec,
    stamp: ChangeStamp,
    expectedVersion?: number,
  ): Promise<Principal> {
    const entry = this.#entry(tenantId);
    const previous = entry.principals.get(principalId);
    if (expectedVersion !== undefined && previous?.version !== expectedVersion)
      throw new TenantDirectoryConflictError(
        versionMessage(principalId, previous, expectedVersion),
        'version',
      );
    const principal = newPrincipal(tenantId, principalId, spec, stamp, previous);
    entry.principals.set(principalId, principal);
    return structuredClone(principal);
  }

  async getPrincipal(tenantId: string, principalId: string): Promise<Principal | undefined> {
    const principal = this.#tenants.get(tenantId)?.principals.get(principalId);
    return principal === undefined ? undefined : structuredClone(principal);
  }

  async listPrincipals(
    tenantId: string,
    page: { limit: number; cursor?: Cursor },
  ): Promise<{ principals: Principal[]; next: Cursor | null }> {
    const all = this.#tenants.get(tenantId)?.principals.values() ?? [];
    const { items, next } = pageBy(all, (principal) => principal.principal_id, page);
    return { principals: structuredClone(items), next };
  }

  async disablePrincipal(
    tenantId: string,
    principalId: string,
    stamp: ChangeStamp,
    keepUntilEpoch: number,
  ): Promise<boolean> {
    const entry = this.#tenants.get(tenantId);
    const principal = entry?.principals.get(principalId);
    if (entry === undefined || principal === undefined) return false;
    // Worked out first: past the tenant's limit it throws and nothing changes.
    const revocations = withPrincipalStatus(
      prunedRevocations(entry.revocations, epochSeconds(stamp.at)),
      principalId,
      { disabledAt: stamp.at, keepUntilEpoch },
      this.#maxDisabledPrincipals,
    );
    entry.principals.set(principalId, principalWithStatus(principal, 'disabled', stamp));
    entry.revocations = revocations;
    return true;
  }

  async enablePrincipal(tenantId: string, principalId: string, stamp: ChangeStamp): Promise<boolean> {
    const entry = this.#tenants.get(tenantId);
    const principal = entry?.principals.get(principalId);
    if (entry === undefined || principal === undefined) return false;
    entry.principals.set(principalId, principalWithStatus(principal, 'active', stamp));
    entry.revocations = withPrincipalStatus(
      prunedRevocations(entry.revocations, epochSeconds(stamp.at)),
      principalId,
      'enabled',
    );
    return true;
  }

  async recordToken(token: IssuedToken): Promise<void> {
    this.#entry(token.tenant_id).tokens.set(token.token_id, structuredClone(token));
  }

  async listTokens(
    tenantId: string,
    page: { limit: number; cursor?: Cursor; principalId?: string },
  ): Promise<{ tokens: IssuedToken[]; next: Cursor | null }> {
    const all = [...(this.#tenants.get(tenantId)?.tokens.values() ?? [])].filter(
      (token) => page.principalId === undefined || token.principal_id === page.principalId,
    );
    const { items, next } = pageBy(all, (token) => token.token_id, page);
    return { tokens: structuredClone(items), next };
  }

  async revokeToken(tenantId: string, tokenId: string, stamp: ChangeStamp): Promise<IssuedToken | undefined> {
    const entry = this.#tenants.get(tenantId);
    const token = entry?.tokens.get(tokenId);
    if (entry === undefined || token === undefined) return undefined;
    const revoked = revokedToken(token, stamp.at);
    entry.tokens.set(tokenId, revoked);
    const revocations = prunedRevocations(entry.revocations, epochSeconds(stamp.at));
    const until = tokenRevocationUntil(revoked);
    if (until > epochSeconds(stamp.at)) revocations.tokens[tokenId] = until;
    entry.revocations = revocations;
    return structuredClone(revoked);
  }

  #entry(tenantId: string): Entry {
    const entry = this.#tenants.get(tenantId);
    if (entry === undefined)
      throw new TenantDirectoryConflictError(`Tenant ${tenantId} not found`, 'missing');
    return entry;
  }
}
