import {
  AgentOsError,
  DependencyUnavailableError,
  ForbiddenError,
  UnauthorizedError,
} from '../errors/agentos-error.ts';
import type { FailureReporter } from '../observability/failure-reporter.ts';
import { admissionCacheSeconds } from './admission-port.ts';
import type { AdmissionPort, VerifiedToken } from './admission-port.ts';
import type { TenantDirectoryPort } from './tenant-directory-port.ts';
import type { Tenant, TenantAccess } from './tenant-schemas.ts';

/** Options of {@link createAdmission}. */
export type AdmissionOptions = {
  /** How long a tenant's record is used before it is read again (HLD §5.2: seconds, not minutes). */
  cacheSeconds?: number;
  /** Tenants cached at once; the least recently used is forgotten first. */
  maxEntries?: number;
  now?: () => Date;
  /** Told when a cached record outlives its time because the directory cannot be read. */
  reportFailure?: FailureReporter;
};

/**
 * How long "no such tenant" is remembered (briefly, so a newly registered tenant is admitted soon),
 * and how long a record the directory failed to refresh is used before the next attempt.
 */
const unknownCacheSeconds = 1;

type Cached = { access: TenantAccess | undefined; expiresAt: number };

/**
 * Ingress admission over the tenant directory (HLD §5.2): each function instance keeps a bounded,
 * least-recently-used cache of tenants' access records for `cacheSeconds`, so disabling a tenant or
 * revoking a token takes effect on every instance within that time and at once on the one that made
 * the change (it calls `forget`). When the directory cannot be read, an expired record is used
 * rather than refusing every request (and the failure reported); with none, the request is refused
 * with `dependency_unavailable`. A refusal names only the caller's own tenant.
 */
export function createAdmission(
  directory: TenantDirectoryPort,
  options: AdmissionOptions = {},
): AdmissionPort {
  const cacheMs = (options.cacheSeconds ?? admissionCacheSeconds) * 1000;
  const unknownMs = Math.min(cacheMs, unknownCacheSeconds * 1000);
  const maxEntries = options.maxEntries ?? 10_000;
  const now = options.now ?? (() => new Date());
  const cache = new Map<string, Cached>();
  const loading = new Map<string, Promise<TenantAccess | undefined>>();

  const remember = (tenantId: string, access: TenantAccess | undefined): void => {
    cache.delete(tenantId);
    cache.set(tenantId, {
      access,
      expiresAt: now().getTime() + (access === undefined ? unknownMs : cacheMs),
    });
    while (cache.size > maxEntries) {
      const oldest = cache.keys().next().value;
      if (oldest === undefined) break;
      cache.delete(oldest);
    }
  };

  const load = async (tenantId: string): Promise<TenantAccess | undefined> => {
    const cached = cache.get(tenantId);
    if (cached !== undefined) {
      // A read moves the entry to the most recently used end.
      cache.delete(tenantId);
      cache.set(tenantId, cached);
      if (cached.expiresAt > now().getTime()) return cached.access;
    }
    const pending = loading.get(tenantId);
    if (pending !== undefined) return pending;
    // A read is cached only while it is still the tenant's current one: `forget` drops it, since
    // what it reads may predate the change that was just made.
    const current = (): boolean => loading.get(tenantId) === read;
    const read: Promise<TenantAccess | undefined> = directory
      .getAccess(tenantId)
      .then((access) => {
        if (current()) remember(tenantId, access);
        return access;
      })
      .catch((error: unknown) => {
        if (cached !== undefined) {
          // Kept a little longer, so a failing directory is not read again by every request.
          if (current())
            cache.set(tenantId, { access: cached.access, expiresAt: now().getTime() + unknownMs });
          options.reportFailure?.('The tenant directory could not be read; using the cached record', error, {
            tenant_id: tenantId,
          });
          return cached.access;
        }
        if (error instanceof AgentOsError && error.code === 'dependency_unavailable') throw error;
        throw new DependencyUnavailableError('The tenant directory is unavailable', { cause: error });
      })
      .finally(() => {
        if (current()) loading.delete(tenantId);
      });
    loading.set(tenantId, read);
    return read;
  };

  return {
    async admit(token: VerifiedToken): Promise<Tenant> {
      const tenantId = token.auth.tenant_id;
      const access = await load(tenantId);
      if (access === undefined)
        throw new UnauthorizedError(
          `Tenant ${tenantId} is not registered on this node; an operator registers it with \`agentos tenants create ${tenantId}\``,
          { details: { reason: 'tenant_unknown' } },
        );
      if (access.tenant.status === 'disabled')
        throw new ForbiddenError(
          `Tenant ${tenantId} is disabled: ${access.tenant.disabled_reason ?? 'disabled by an operator'}`,
          { details: { reason: 'tenant_disabled' } },
        );
      if (token.tokenId !== undefined && access.revokedTokens[token.tokenId] !== undefined)
        throw new UnauthorizedError('This token has been revoked; ask for a new one', {
          details: { reason: 'token_revoked' },
        });
      if (access.disabledPrincipals.has(token.auth.principal.id))
        throw new UnauthorizedError(
          `Principal ${token.auth.principal.id} is disabled; a tenant admin can enable it again`,
          { details: { reason: 'principal_disabled' } },
        );
      const revokedBefore = access.principalsRevokedBefore[token.auth.principal.id];
      // A token without `iat` cannot show it was issued after the principal was disabled.
      if (revokedBefore !== undefined && (token.issuedAt === undefined || token.issuedAt <= revokedBefore))
        throw new UnauthorizedError(
          `Principal ${token.auth.principal.id} was disabled; tokens issued to it before then are refused`,
          { details: { reason: 'principal_disabled' } },
        );
      return access.tenant;
    },
    async tenant(tenantId: string): Promise<Tenant | undefined> {
      return (await load(tenantId))?.tenant;
    },
    forget(tenantId: string): void {
      cache.delete(tenantId);
      // A read in flight finishes for its callers but is neither cached nor shared with later
      // requests, which read the directory again.
      loading.delete(tenantId);
    },
  };
}
