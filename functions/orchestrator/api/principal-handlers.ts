import { scopes } from '../../shared/auth/auth-context.ts';
import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { IdentifyingTokenIssuer } from '../../shared/auth/token-issuer.ts';
import {
  ConflictError,
  ForbiddenError,
  InvalidRequestError,
  NotFoundError,
} from '../../shared/errors/agentos-error.ts';
import type { RouteHandlers } from '../../shared/http/bound-route.ts';
import type { AdmissionPort } from '../../shared/tenancy/admission-port.ts';
import { TenantDirectoryConflictError } from '../../shared/tenancy/tenant-directory-port.ts';
import type { ChangeStamp, TenantDirectoryPort } from '../../shared/tenancy/tenant-directory-port.ts';
import type { IssuedToken, Principal } from '../../shared/tenancy/tenant-schemas.ts';
import { defaultListLimit } from './agent-handlers.ts';
import type { principalRoutes } from './principal-api.ts';

/** What the tenant admin API is built on. */
export type PrincipalHandlerDeps = {
  directory: TenantDirectoryPort;
  /** Forgotten for a tenant this process changed, so a revocation applies here at once. */
  admission: AdmissionPort;
  /** Signs tokens with the node's key; resolved on first use (only this API needs the key). */
  issuer: () => IdentifyingTokenIssuer;
  /** The longest token lifetime the node accepts (`AGENTOS_JWT_MAX_LIFETIME_SECONDS`). */
  maxTokenLifetimeSeconds: number;
  now: () => Date;
};

/**
 * The version an `If-Match` header names; undefined for `*` or no header.
 * @throws InvalidRequestError when the header names no version (a principal's ETag is `"N"`)
 */
function ifMatchVersion(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '*') return undefined;
  const digits = /\d+/.exec(header)?.[0];
  if (digits === undefined)
    throw new InvalidRequestError('If-Match names no version', [
      { field: 'If-Match', message: 'must be a principal’s ETag, such as "3", or *' },
    ]);
  return Number(digits);
}

function etagOf(principal: Principal): string {
  return `"${principal.version}"`;
}

const knownScopes: ReadonlySet<string> = new Set(Object.values(scopes));

/**
 * Refuses scopes an admin may not hand out (HLD §3.3): unknown ones (400), `operator` and any the
 * admin lacks itself (403), so administering a tenant never widens anyone's access.
 */
function checkGrantable(auth: AuthContext, requested: readonly string[], field: string): void {
  const unknown = requested.findIndex((scope) => !knownScopes.has(scope));
  if (unknown >= 0) {
    throw new InvalidRequestError(`Unknown scope ${requested[unknown]}`, [
      { field: `${field}.${unknown}`, message: 'is not a scope AgentOS knows' },
    ]);
  }
  if (requested.includes(scopes.operator)) {
    throw new ForbiddenError('A tenant admin cannot grant the operator scope');
  }
  const lacking = requested.filter((scope) => !auth.scopes.includes(scope));
  if (lacking.length > 0) {
    throw new ForbiddenError(
      `A tenant admin can grant only scopes it holds; it lacks ${lacking.join(', ')}`,
      {
        details: { scopes: lacking },
      },
    );
  }
}

/**
 * The handlers of the tenant admin API (principal-api.ts, HLD §5.2): every call acts on the
 * caller's own tenant, the one its token names.
 */
export function principalHandlers(deps: PrincipalHandlerDeps): RouteHandlers<typeof principalRoutes> {
  const { directory, admission } = deps;
  const stamp = (auth: AuthContext): ChangeStamp => ({ by: auth.principal.id, at: deps.now() });

  async function existing(auth: AuthContext, principalId: string): Promise<Principal> {
    const principal = await directory.getPrincipal(auth.tenant_id, principalId);
    if (principal === undefined) throw new NotFoundError(`Principal ${principalId} not found`);
    return principal;
  }

  return {
    async putPrincipal({ auth, params, body, headers }) {
      const { expected_version: inBody, ...spec } = body;
      const inHeader = ifMatchVersion(headers['if-match']);
      if (inBody !== undefined && inHeader !== undefined && inBody !== inHeader)
        throw new InvalidRequestError('If-Match and expected_version name different versions', [
          { field: 'expected_version', message: `is ${inBody} but If-Match names ${inHeader}` },
        ]);
      checkGrantable(auth, spec.scopes, 'scopes');
      try {
        const principal = await directory.putPrincipal(
          auth.tenant_id,
          params.principal_id,
          spec,
          stamp(auth),
          inBody ?? inHeader,
        );
        admission.forget(auth.tenant_id);
        return { status: 200, headers: { etag: etagOf(principal) }, json: principal };
      } catch (error) {
        if (!(error instanceof TenantDirectoryConflictError)) throw error;
        if (error.reason === 'missing') throw new NotFoundError(`Tenant ${auth.tenant_id} not found`);
        throw new ConflictError(error.message, { details: { reason: error.reason } });
      }
    },

    async listPrincipals({ auth, query }) {
      const page = await directory.listPrincipals(auth.tenant_id, {
        limit: query.limit ?? defaultListLimit,
        ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
      });
      return { status: 200, json: { object: 'list', data: page.principals, next_cursor: page.next } };
    },

    async getPrincipal({ auth, params }) {
      const principal = await existing(auth, params.principal_id);
      return { status: 200, headers: { etag: etagOf(principal) }, json: principal };
    },

    async disablePrincipal({ auth, params }) {
      if (params.principal_id === auth.principal.id) {
        throw new ConflictError('An admin cannot disable itself');
      }
      const at = stamp(auth);
      // Its tokens stay refused until every one issued so far would have expired anyway.
      const keepUntil = Math.floor(at.at.getTime() / 1000) + deps.maxTokenLifetimeSeconds;
      let disabled: boolean;
      try {
        disabled = await directory.disablePrincipal(auth.tenant_id, params.principal_id, at, keepUntil);
      } catch (error) {
        if (!(error instanceof TenantDirectoryConflictError)) throw error;
        if (error.reason === 'missing') throw new NotFoundError(`Tenant ${auth.tenant_id} not found`);
        throw new ConflictError(error.message, { details: { reason: error.reason } });
      }
      if (!disabled) throw new NotFoundError(`Principal ${params.principal_id} not found`);
      admission.forget(auth.tenant_id);
      return { status: 200, json: await existing(auth, params.principal_id) };
    },

    async enablePrincipal({ auth, params }) {
      if (!(await directory.enablePrincipal(auth.tenant_id, params.principal_id, stamp(auth)))) {
        throw new NotFoundError(`Principal ${params.principal_id} not found`);
      }
      admission.forget(auth.tenant_id);
      return { status: 200, json: await existing(auth, params.principal_id) };
    },

    async issuePrincipalToken({ auth, params, body }) {
      const principal = await existing(auth, params.principal_id);
      if (principal.status !== 'active') {
        throw new ConflictError(`Principal ${principal.principal_id} is disabled`);
      }
      const ttlSeconds = body.ttl_seconds ?? deps.maxTokenLifetimeSeconds;
      if (ttlSeconds > deps.maxTokenLifetimeSeconds) {
        throw new InvalidRequestError(`ttl_seconds is over the node's maximum token lifetime`, [
          { field: 'ttl_seconds', message: `must be at most ${deps.maxTokenLifetimeSeconds}` },
        ]);
      }
      const tokenScopes = body.scopes ?? principal.scopes;
      const beyond = tokenScopes.findIndex((scope) => !principal.scopes.includes(scope));
      if (beyond >= 0) {
        throw new InvalidRequestError(`The principal does not hold ${tokenScopes[beyond]}`, [
          { field: `scopes.${beyond}`, message: 'is not one of the principal’s scopes' },
        ]);
      }
      checkGrantable(auth, tokenScopes, 'scopes');
      const issued = await deps.issuer().issueIdentified({
        tenantId: auth.tenant_id,
        subject: principal.principal_id,
        scopes: [...tokenScopes],
        // Any admin of the tenant may issue a principal's token: who did is kept with it (HLD §5.2).
        issuedBy: auth.principal.id,
        ttlSeconds,
      });
      const record: IssuedToken = {
        object: 'token',
        token_id: issued.tokenId,
        tenant_id: auth.tenant_id,
        principal_id: principal.principal_id,
        scopes: [...tokenScopes],
        issued_at: new Date(issued.issuedAt * 1000).toISOString(),
        expires_at: new Date(issued.expiresAt * 1000).toISOString(),
        revoked_at: null,
        issued_by: auth.principal.id,
      };
      await directory.recordToken(record);
      return {
        status: 201,
        headers: { 'cache-control': 'no-store' },
        json: { ...record, token: issued.token },
      };
    },

    async listTokens({ auth, query }) {
      const page = await directory.listTokens(auth.tenant_id, {
        limit: query.limit ?? defaultListLimit,
        ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
        ...(query.principal === undefined ? {} : { principalId: query.principal }),
      });
      return { status: 200, json: { object: 'list', data: page.tokens, next_cursor: page.next } };
    },

    async revokeToken({ auth, params }) {
      const token = await directory.revokeToken(auth.tenant_id, params.token_id, stamp(auth));
      if (token === undefined) throw new NotFoundError(`Token ${params.token_id} not found`);
      admission.forget(auth.tenant_id);
      return { status: 200, json: token };
    },
  };
}
