import { scopes, TenantIdSchema } from '../../shared/auth/auth-context.ts';
import type { AuthContext } from '../../shared/auth/auth-context.ts';
import { ForbiddenError, InvalidRequestError } from '../../shared/errors/agentos-error.ts';
import type { Route } from '../../shared/http/api-types.ts';
import { parseJsonBody } from '../../shared/http/json-body.ts';
import type { TenantPolicySource } from '../policy/tenant-policy-source.ts';
import type { TenantModelPolicyDocument } from '../schemas/admin.ts';
import { TenantModelPolicySchema } from '../schemas/tenant-policy.ts';

const maxPolicyBytes = 128 * 1024;

function tenantIdOf(params: Record<string, string>): string {
  const tenantId = params['tenant_id'] ?? '';
  if (!TenantIdSchema.safeParse(tenantId).success) {
    throw new InvalidRequestError('Invalid tenant id', [
      { field: 'tenant_id', message: '1-63 characters of a-z, 0-9, "_" and "-"' },
    ]);
  }
  return tenantId;
}

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
export function adminPolicyRoutes(
  policies: TenantPolicySource,
  now: () => Date,
  operatorTenantId: string,
): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/admin/tenants/{tenant_id}/model-policy',
      scope: scopes.operator,
      async handle(request) {
        requirePlatformOperator(request.auth, operatorTenantId);
        const tenantId = tenantIdOf(request.params);
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
    },
    {
      method: 'PUT',
      path: '/v1/admin/tenants/{tenant_id}/model-policy',
      scope: scopes.operator,
      async handle(request) {
        requirePlatformOperator(request.auth, operatorTenantId);
        const tenantId = tenantIdOf(request.params);
        const policy = parseJsonBody(request.body, TenantModelPolicySchema, { maxBytes: maxPolicyBytes });
        const stored = await policies.update(tenantId, policy, request.auth.principal.id, now());
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
    },
  ];
}
