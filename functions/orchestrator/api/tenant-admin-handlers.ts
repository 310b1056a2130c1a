import type { AuthContext } from '../../shared/auth/auth-context.ts';
import { ConflictError, ForbiddenError, NotFoundError } from '../../shared/errors/agentos-error.ts';
import type { RouteHandlers } from '../../shared/http/bound-route.ts';
import type { AdmissionPort } from '../../shared/tenancy/admission-port.ts';
import { TenantDirectoryConflictError } from '../../shared/tenancy/tenant-directory-port.ts';
import type { ChangeStamp, TenantDirectoryPort } from '../../shared/tenancy/tenant-directory-port.ts';
import type { Tenant } from '../../shared/tenancy/tenant-schemas.ts';
import type { RunStatePort } from '../ports/run-state-port.ts';
import { toRunView } from '../runtime/run-service.ts';
import { operatorActingFor } from '../runtime/run-stopper.ts';
import type { RunStopper } from '../runtime/run-stopper.ts';
import { defaultListLimit } from './agent-handlers.ts';
import { modelPolicyPath } from './tenant-admin-api.ts';
import type { tenantAdminRoutes, TenantView } from './tenant-admin-api.ts';

/** What the operator API is built on. */
export type TenantAdminHandlerDeps = {
  directory: TenantDirectoryPort;
  /** Forgotten for a tenant this process changed, so the change applies here at once. */
  admission: AdmissionPort;
  runs: RunStatePort;
  stopper: RunStopper;
  now: () => Date;
  /** The platform tenant whose operators administer the others (`AGENTOS_OPERATOR_TENANT`). */
  operatorTenantId: string;
};

/** Refuses anyone but an operator of the platform's own tenant: the scope alone is not enough. */
function requirePlatformOperator(auth: AuthContext, operatorTenantId: string): void {
  if (auth.tenant_id !== operatorTenantId) {
    throw new ForbiddenError('Only operators of the platform tenant may administer tenants');
  }
}

function view(tenant: Tenant): TenantView {
  return { ...tenant, model_policy_path: modelPolicyPath(tenant.tenant_id) };
}

/** The directory's conflicts as API errors: `missing` is 404, the others 409 saying which. */
function asApiError(error: unknown, tenantId: string): unknown {
  if (!(error instanceof TenantDirectoryConflictError)) return error;
  if (error.reason === 'missing') return new NotFoundError(`Tenant ${tenantId} not found`);
  if (error.reason === 'exists') return new ConflictError(`Tenant ${tenantId} already exists`);
  if (error.reason === 'unusable')
    return new ConflictError(`Tenant id ${tenantId} cannot be used on this node; choose another`);
  return new ConflictError(`Tenant ${tenantId} is no longer at the expected version`, {
    details: { reason: 'version' },
  });
}

/**
 * The handlers of the operator API (tenant-admin-api.ts, HLD §5.2, §10.2): each checks the caller
 * is an operator of the operator tenant, then acts on the tenant directory or the tenant's runs.
 */
export function tenantAdminHandlers(deps: TenantAdminHandlerDeps): RouteHandlers<typeof tenantAdminRoutes> {
  const { directory, admission, stopper, operatorTenantId } = deps;
  const stamp = (auth: AuthContext): ChangeStamp => ({ by: auth.principal.id, at: deps.now() });

  async function existing(tenantId: string): Promise<Tenant> {
    const tenant = await directory.getTenant(tenantId);
    if (tenant === undefined) throw new NotFoundError(`Tenant ${tenantId} not found`);
    return tenant;
  }

  async function change(
    auth: AuthContext,
    tenantId: string,
    update: Parameters<TenantDirectoryPort['updateTenant']>[1],
    expectedVersion?: number,
  ): Promise<Tenant> {
    try {
      const tenant = await directory.updateTenant(tenantId, update, stamp(auth), expectedVersion);
      admission.forget(tenantId);
      return tenant;
    } catch (error) {
      throw asApiError(error, tenantId);
    }
  }

  return {
    async createTenant({ auth, body }) {
      requirePlatformOperator(auth, operatorTenantId);
      try {
        const tenant = await directory.createTenant(body, stamp(auth));
        admission.forget(tenant.tenant_id);
        return {
          status: 201,
          headers: { location: `/v1/admin/tenants/${tenant.tenant_id}` },
          json: view(tenant),
        };
      } catch (error) {
        throw asApiError(error, body.tenant_id);
      }
    },

    async listTenants({ auth, query }) {
      requirePlatformOperator(auth, operatorTenantId);
      const page = await directory.listTenants({
        limit: query.limit ?? defaultListLimit,
        ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
      });
      return { status: 200, json: { object: 'list', data: page.tenants.map(view), next_cursor: page.next } };
    },

    async getTenant({ auth, params }) {
      requirePlatformOperator(auth, operatorTenantId);
      return { status: 200, json: view(await existing(params.tenant_id)) };
    },

    async updateTenant({ auth, params, body }) {
      requirePlatformOperator(auth, operatorTenantId);
      const { expected_version: expectedVersion, ...spec } = body;
      return { status: 200, json: view(await change(auth, params.tenant_id, spec, expectedVersion)) };
    },

    async disableTenant({ auth, params, body }) {
      requirePlatformOperator(auth, operatorTenantId);
      if (params.tenant_id === operatorTenantId) {
        throw new ConflictError('The operator tenant cannot be disabled: no operator could enable it again');
      }
      const tenant = await change(auth, params.tenant_id, {
        status: 'disabled',
        disabled_reason: body.reason,
      });
      // New requests are refused from now on; then the runs already admitted are stopped.
      const outcome = await stopper.stop(auth, tenant.tenant_id, { all: true }, body.reason);
      return {
        status: 200,
        json: {
          ...view(tenant),
          stopped_runs: outcome.stopped,
          continues_in_background: outcome.continuing,
        },
      };
    },

    async enableTenant({ auth, params }) {
      requirePlatformOperator(auth, operatorTenantId);
      const tenant = await change(auth, params.tenant_id, { status: 'active', disabled_reason: null });
      return { status: 200, json: view(tenant) };
    },

    async listTenantRuns({ auth, params, query }) {
      requirePlatformOperator(auth, operatorTenantId);
      await existing(params.tenant_id);
      const page = await deps.runs.listRuns(operatorActingFor(auth, params.tenant_id), {
        limit: query.limit ?? defaultListLimit,
        ...(query.status === undefined ? {} : { status: query.status }),
        ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
      });
      return {
        status: 200,
        json: { object: 'list', data: page.runs.map(toRunView), next_cursor: page.nextCursor },
      };
    },

    async stopTenantRuns({ auth, params, body }) {
      requirePlatformOperator(auth, operatorTenantId);
      await existing(params.tenant_id);
      const outcome = await stopper.stop(
        auth,
        params.tenant_id,
        body.all === true ? { all: true } : { runIds: body.run_ids ?? [] },
        body.reason,
      );
      return {
        status: 200,
        json: {
          object: 'run_stop',
          tenant_id: params.tenant_id,
          reason: body.reason,
          stopped: outcome.stopped,
          continues_in_background: outcome.continuing,
          already_over: outcome.alreadyOver.map((entry) => ({ run_id: entry.runId, status: entry.status })),
          not_found: outcome.notFound,
        },
      };
    },
  };
}
