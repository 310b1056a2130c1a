import { defaultTenantQuotas } from './tenant-schemas.ts';
import type {
  CreateTenantRequest,
  IssuedToken,
  Principal,
  PrincipalSpec,
  Tenant,
  TenantAccess,
  TenantSpec,
} from './tenant-schemas.ts';
import { TenantDirectoryConflictError } from './tenant-directory-port.ts';
import type { ChangeStamp } from './tenant-directory-port.ts';

/**
 * How every TenantDirectoryPort adapter builds and changes records (HLD §5.2), so adapters differ
 * only in where the records live.
 */

/**
 * How many principals a tenant may have disabled at once. Every one is kept in the tenant's profile
 * item (HLD §5.2: admission is one read) twice: in `disabled_principals` and, for the node's maximum
 * token lifetime, in `revoked_principals`. With the longest principal id (128 characters) that is
 * about 290 bytes a principal, so 500 of them take about 145 KB and the item stays far below
 * DynamoDB's 400 KB, leaving room for the tenant and its revoked tokens.
 */
export const maxDisabledPrincipals = 500;

/** Options every TenantDirectoryPort adapter takes. */
export type TenantDirectoryOptions = {
  now?: () => Date;
  /** Disabled principals a tenant may have; {@link maxDisabledPrincipals} unless a test sets fewer. */
  maxDisabledPrincipals?: number;
};

/** A tenant's change as the port takes it. */
export type TenantChange = TenantSpec & { status?: Tenant['status']; disabled_reason?: string | null };

/** A principal's "tokens issued at or before `before` are refused", kept until `until` (epoch seconds). */
export type PrincipalRevocation = { before: number; until: number };

/** The revocations a tenant's record keeps next to the tenant. */
export type Revocations = {
  /** Token id → epoch seconds after which the entry can be forgotten (the token has expired). */
  tokens: Record<string, number>;
  principals: Record<string, PrincipalRevocation>;
  /**
   * The principals disabled now: every token of theirs is refused, whoever issued it, until they are
   * enabled again (kept without an expiry, unlike the entries above).
   */
  disabledPrincipals: string[];
};

/** The tenant a create request registers. */
export function newTenant(request: CreateTenantRequest, stamp: ChangeStamp): Tenant {
  const at = stamp.at.toISOString();
  return {
    object: 'tenant',
    tenant_id: request.tenant_id,
    display_name: request.display_name ?? request.tenant_id,
    status: 'active',
    disabled_reason: null,
    quotas: { ...defaultTenantQuotas, ...definedOnly(request.quotas ?? {}) },
    tool_allowlist: request.tool_allowlist === undefined ? null : cloneList(request.tool_allowlist),
    version: 1,
    created_at: at,
    updated_at: at,
    updated_by: stamp.by,
  };
}

/** `tenant` with `change` applied (quotas merged), one version later. */
export function changedTenant(tenant: Tenant, change: TenantChange, stamp: ChangeStamp): Tenant {
  const status = change.status ?? tenant.status;
  return {
    ...tenant,
    display_name: change.display_name ?? tenant.display_name,
    quotas: { ...tenant.quotas, ...definedOnly(change.quotas ?? {}) },
    tool_allowlist:
      change.tool_allowlist === undefined ? tenant.tool_allowlist : cloneList(change.tool_allowlist),
    status,
    // A disabled tenant keeps the operator's reason; an active one has none.
    disabled_reason:
      status === 'active'
        ? null
        : (change.disabled_reason ?? tenant.disabled_reason ?? 'disabled by an operator'),
    version: tenant.version + 1,
    updated_at: stamp.at.toISOString(),
    updated_by: stamp.by,
  };
}

/**
 * The principal `spec` describes, keeping the creation time and the status of the one it replaces:
 * only disabling and enabling change a principal's status (HLD §5.2).
 */
export function newPrincipal(
  tenantId: string,
  principalId: string,
  spec: PrincipalSpec,
  stamp: ChangeStamp,
  previous: Principal | undefined,
): Principal {
  const at = stamp.at.toISOString();
  return {
    object: 'principal',
    tenant_id: tenantId,
    principal_id: principalId,
    type: spec.type,
    display_name: spec.display_name ?? principalId,
    scopes: [...spec.scopes],
    status: previous?.status ?? 'active',
    version: (previous?.version ?? 0) + 1,
    created_at: previous?.created_at ?? at,
    updated_at: at,
  };
}

/** Why a principal write expecting `expected` was refused. */
export function versionMessage(
  principalId: string,
  current: Principal | undefined,
  expected: number,
): string {
  return current === undefined
    ? `Principal ${principalId} does not exist, so it is not at version ${expected}`
    : `Principal ${principalId} is at version ${current.version}, not ${expected}`;
}

/** `principal` with its status set, one version later. */
export function principalWithStatus(
  principal: Principal,
  status: Principal['status'],
  stamp: ChangeStamp,
): Principal {
  return { ...principal, status, version: principal.version + 1, updated_at: stamp.at.toISOString() };
}

/** The revocations still relevant at `nowEpoch`: expired entries are dropped on every write. */
export function prunedRevocations(revocations: Revocations, nowEpoch: number): Revocations {
  return {
    tokens: Object.fromEntries(Object.entries(revocations.tokens).filter(([, until]) => until > nowEpoch)),
    principals: Object.fromEntries(
      Object.entries(revocations.principals).filter(([, entry]) => entry.until > nowEpoch),
    ),
    disabledPrincipals: [...revocations.disabledPrincipals],
  };
}

/**
 * What ingress reads of a tenant: the tenant and its live revocations, the disabled principals as a
 * set, so admitting a request looks its principal up once rather than scanning the list.
 */
export function accessOf(tenant: Tenant, revocations: Revocations, nowEpoch: number): TenantAccess {
  const live = prunedRevocations(revocations, nowEpoch);
  return {
    tenant,
    revokedTokens: live.tokens,
    principalsRevokedBefore: Object.fromEntries(
      Object.entries(live.principals).map(([principalId, entry]) => [principalId, entry.before]),
    ),
    disabledPrincipals: new Set(live.disabledPrincipals),
  };
}

/**
 * `revocations` with the principal disabled (every token of it refused, and those issued so far
 * refused until `keepUntilEpoch` even once it is enabled again) or enabled again (its entry removed).
 * @throws TenantDirectoryConflictError `limit` when disabling one more than `limit` (by default
 *   {@link maxDisabledPrincipals})
 */
export function withPrincipalStatus(
  revocations: Revocations,
  principalId: string,
  change: { disabledAt: Date; keepUntilEpoch: number } | 'enabled',
  limit = maxDisabledPrincipals,
): Revocations {
  const others = revocations.disabledPrincipals.filter((id) => id !== principalId);
  if (change === 'enabled') return { ...revocations, disabledPrincipals: others };
  // One already disabled stays so (idempotent), even in a tenant left above the limit by earlier writes.
  const alreadyDisabled = others.length < revocations.disabledPrincipals.length;
  if (!alreadyDisabled && others.length >= limit)
    throw new TenantDirectoryConflictError(
      `The tenant has ${limit} disabled principals, as many as it may; enable one of them again before disabling another`,
      'limit',
    );
  const previous = revocations.principals[principalId];
  return {
    ...revocations,
    principals: {
      ...revocations.principals,
      [principalId]: {
        before: Math.max(previous?.before ?? 0, epochSeconds(change.disabledAt)),
        until: Math.max(previous?.until ?? 0, change.keepUntilEpoch),
      },
    },
    disabledPrincipals: [...others, principalId].sort(),
  };
}

/** Epoch seconds of a date. */
export function epochSeconds(at: Date): number {
  return Math.floor(at.getTime() / 1000);
}

/** `token` revoked at `at` (unchanged when it already was). */
export function revokedToken(token: IssuedToken, at: Date): IssuedToken {
  return token.revoked_at === null ? { ...token, revoked_at: at.toISOString() } : token;
}

/** How long a revoked token's id must be remembered: until the token has expired. */
export function tokenRevocationUntil(token: IssuedToken): number {
  return Math.ceil(Date.parse(token.expires_at) / 1000);
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as Partial<T>;
}

function cloneList(list: string[] | null): string[] | null {
  return list === null ? null : [...list];
}
