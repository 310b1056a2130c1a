import type { Cursor } from './tenant-paging.ts';
import type {
  CreateTenantRequest,
  IssuedToken,
  Principal,
  PrincipalSpec,
  Tenant,
  TenantAccess,
  TenantSpec,
} from './tenant-schemas.ts';

/**
 * Thrown when a conditional change finds the record in another state than expected: `exists` (the
 * record is there already), `missing`, `version` (it moved on), `unusable` (the id's storage key is
 * held by another id, so this id cannot be used on the node), `limit` (the tenant holds as many of
 * such records as it may, e.g. disabled principals).
 */
export class TenantDirectoryConflictError extends Error {
  readonly reason: 'exists' | 'missing' | 'version' | 'unusable' | 'limit';
  constructor(message: string, reason: 'exists' | 'missing' | 'version' | 'unusable' | 'limit') {
    super(message);
    this.reason = reason;
    this.name = 'TenantDirectoryConflictError';
  }
}

/** Who changed something and when, for the record's `updated_by`/`updated_at`. */
export type ChangeStamp = { by: string; at: Date };

/**
 * The registry of a node's tenants, their principals and the tokens issued to them (HLD §5.2). It
 * knows records, not rules: who may call which operation is the API's business.
 */
export interface TenantDirectoryPort {
  /**
   * Registers a tenant. A create that races another of the same id either wins or finds it exists.
   * @throws TenantDirectoryConflictError `exists` when the tenant exists, `unusable` when its id cannot be used
   * @throws DependencyUnavailableError when concurrent writes kept it from completing; retry
   */
  createTenant(request: CreateTenantRequest, stamp: ChangeStamp): Promise<Tenant>;
  getTenant(tenantId: string): Promise<Tenant | undefined>;
  /** A page of the node's tenants in a stable order, `limit` at most, after `cursor`. */
  listTenants(page: { limit: number; cursor?: Cursor }): Promise<{ tenants: Tenant[]; next: Cursor | null }>;
  /**
   * Changes a tenant's spec (merging partial quotas) and/or status.
   * @throws TenantDirectoryConflictError `missing` (no such tenant) or `version` (expected_version moved on)
   */
  updateTenant(
    tenantId: string,
    change: TenantSpec & { status?: Tenant['status']; disabled_reason?: string | null },
    stamp: ChangeStamp,
    expectedVersion?: number,
  ): Promise<Tenant>;
  /** The tenant and its live revocations, for ingress; undefined for an unknown tenant. */
  getAccess(tenantId: string): Promise<TenantAccess | undefined>;

  /**
   * Creates or replaces a principal, keeping its status. Every write is conditional on the version
   * it replaces, so concurrent changes never lose one; with `expectedVersion`, only that version is
   * replaced (a missing principal has none).
   * @throws TenantDirectoryConflictError `missing` (unknown tenant), `version`, `unusable` (id's key taken)
   */
  putPrincipal(
    tenantId: string,
    principalId: string,
    spec: PrincipalSpec,
    stamp: ChangeStamp,
    expectedVersion?: number,
  ): Promise<Principal>;
  getPrincipal(tenantId: string, principalId: string): Promise<Principal | undefined>;
  listPrincipals(
    tenantId: string,
    page: { limit: number; cursor?: Cursor },
  ): Promise<{ principals: Principal[]; next: Cursor | null }>;
  /**
   * Disables a principal: every token of it is refused while it is disabled, whoever issued it, and
   * those issued until now stay refused until `keepUntilEpoch` (its record stays, so its usage and
   * runs keep their owner). Idempotent; false when there is no such principal.
   * @throws TenantDirectoryConflictError `limit` when the tenant already has
   *   `maxDisabledPrincipals` (tenant-records.ts) disabled principals and this one is not one of them
   */
  disablePrincipal(
    tenantId: string,
    principalId: string,
    stamp: ChangeStamp,
    keepUntilEpoch: number,
  ): Promise<boolean>;

  /**
   * Enables a disabled principal again: its tokens are admitted again, except those issued before it
   * was disabled. Idempotent; false when there is no such principal.
   */
  enablePrincipal(tenantId: string, principalId: string, stamp: ChangeStamp): Promise<boolean>;

  /** Records a token issued to a principal (its metadata; never the token). */
  recordToken(token: IssuedToken): Promise<void>;
  listTokens(
    tenantId: string,
    page: { limit: number; cursor?: Cursor; principalId?: string },
  ): Promise<{ tokens: IssuedToken[]; next: Cursor | null }>;
  /**
   * Revokes one issued token: marks its record and adds its id to the tenant's revocations until it
   * expires. Idempotent; undefined when the tenant issued no such token.
   */
  revokeToken(tenantId: string, tokenId: string, stamp: ChangeStamp): Promise<IssuedToken | undefined>;
}
