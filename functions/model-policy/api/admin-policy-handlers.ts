import type { AuthContext } from '../../shared/auth/auth-context.ts';
import { ForbiddenError } from '../../shared/errors/agentos-error.ts';
import type { RouteHandler } from '../../shared/http/bound-route.ts';
import type { TenantPolicySource } from '../policy/tenant-policy-source.ts';
import type { TenantModelPolicyDocument } from '../schemas/admin.ts';
import type { getTenantModelPolicy, putTenantModelPolicy } from './model-policy-api.ts';

/** The platform tenant whose operators administer other tenants, unless configured otherwise. */
export const defaultOperatorTenantId = 'operator';

/** Refuses anyone but an operator of the platform's own tenant: the scope alone is not enough. */
function requirePlatformOperator(auth: AuthContext, operatorTenantId: string): void {
  if (auth.tenant_id !== operatorTenantId) {
    throw new ForbiddenError('Only operators of the platform tenant may administer tenants');
  }
}

/**
 * `GET`/`PUT /v1/admin/tenants/{tenant_id}/model-policy` (scope `operator`, token of the operator
 * tenant): an operator reads or sets a tenant's entitlements, max-tokens cap, redaction, deny rules
 * and budgets. A tenant without its own policy reads as the node default.
 */
export function adminPolicyHandlers(
  policies: TenantPolicySource,
  now: () => Date,
  operatorTenantId: string,
): {
  getTenantModelPolicy: RouteHandler<typeof getTenantModelPolicy>;
  putTenantModelPolicy: RouteHandler<typeof putTenantModelPolicy>;
} {
  return {
    async getTenantModelPolicy({ auth, params }) {
      requirePlatformOperator(auth, operatorTenantId);
      const tenantId = params.tenant_id;
      const { policy, stored } = await policies.forTenant(tenantId);
      const document: TenantModelPolicyDocument = {
        object: 'tenant.model_policy',
        tenant_id: tenantId,
        source: stored === undefined ? 'default' : 'stored',
        version: stored?.version ?? 0,
        updated_at: stored?.updated_at ?? null,
        updated_by: stored?.updated_by ?? null,
        policy,
      };
      return { status: 200, json: document };
    },
    async putTenantModelPolicy({ auth, params, body }) {
      requirePlatformOperator(auth, operatorTenantId);
      const tenantId = params.tenant_id;
      const stored = await policies.update(tenantId, body, auth.principal.id, now());
      const document: TenantModelPolicyDocument = {
        object: 'tenant.model_policy',
        tenant_id: tenantId,
        source: 'stored',
        version: stored.version,
        updated_at: stored.updated_at,
        updated_by: stored.updated_by,
        policy: stored.policy,
      };
      return { status: 200, json: document };
    },
  };
}
