import type { AuthContext } from '../auth/auth-context.ts';
import type { Tenant } from './tenant-schemas.ts';

/** What ingress knows about a verified bearer token besides its Auth Context. */
export type VerifiedToken = {
  auth: AuthContext;
  /** The token's `jti`, when it has one (tokens this node issues always do). */
  tokenId?: string;
  /** The token's `iat` in epoch seconds, when it has one. */
  issuedAt?: number;
  /** The token's `iss`. */
  issuer: string;
};

/**
 * Admits a verified token's tenant and principal at ingress (HLD §5.2): an unknown or disabled
 * tenant, a revoked token and a disabled principal's token are refused. Implementations may cache
 * a tenant's access for a bounded time (see {@link admissionCacheSeconds}), so a change takes effect
 * within that time on every function instance.
 */
export interface AdmissionPort {
  /**
   * @returns the tenant, for its quotas and allow-list
   * @throws UnauthorizedError (`details.reason`: `tenant_unknown`, `token_revoked`, `principal_disabled`)
   * @throws ForbiddenError (`details.reason`: `tenant_disabled`)
   * @throws DependencyUnavailableError when the directory cannot be read and nothing is cached
   */
  admit(token: VerifiedToken): Promise<Tenant>;
  /**
   * The tenant's record through the same cache, for code that acts for a tenant without a token
   * (the step worker reads quotas and status this way); undefined for an unknown tenant.
   */
  tenant(tenantId: string): Promise<Tenant | undefined>;
  /** Forgets what is cached about a tenant (the process that changed it sees the change at once). */
  forget(tenantId: string): void;
}

/** How long a function instance may act on a cached tenant record before reading it again. */
export const admissionCacheSeconds = 5;
