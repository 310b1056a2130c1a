import { z } from 'zod';
import { scopes, TenantIdSchema } from '../../shared/auth/auth-context.ts';
import { defineRoute } from '../../shared/http/route-spec.ts';
import {
  CreateTenantRequestSchema,
  TenantSchema,
  TenantSpecSchema,
} from '../../shared/tenancy/tenant-schemas.ts';
import { RunIdSchema, RunListQuerySchema, RunPageSchema, RunStatusSchema } from '../schemas/run.ts';
import { ListQuerySchema } from './agent-api.ts';

/**
 * The platform operator's API (HLD §5.2, §10.2): register, read, change, disable and re-enable the
 * node's tenants, list a tenant's runs and stop them (the kill switch). Every route needs the
 * `operator` scope on a token of the operator tenant. A tenant's model entitlements and budgets are
 * the Model Policy's (`/v1/admin/tenants/{tenant_id}/model-policy` there), not repeated here.
 * Declared once; handlers in tenant-admin-handlers.ts.
 */

/** Where a tenant's model entitlements and budgets are administered, on the Model Policy service. */
export function modelPolicyPath(tenantId: string): string {
  return `/v1/admin/tenants/${tenantId}/model-policy`;
}

export const TenantViewSchema = TenantSchema.extend({
  model_policy_path: z
    .string()
    .describe(
      'The tenant’s model entitlements and budgets: this path on the Model Policy service (operator scope).',
    ),
}).meta({ id: 'TenantView' });

export type TenantView = z.infer<typeof TenantViewSchema>;

export const TenantListSchema = z
  .strictObject({
    object: z.literal('list'),
    data: z
      .array(TenantViewSchema)
      .describe('The node’s tenants, in a stable order that is not alphabetical.'),
    next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last one.'),
  })
  .meta({ id: 'TenantList' });

export const UpdateTenantRequestSchema = TenantSpecSchema.extend({
  expected_version: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('Only change the tenant if this is its current version (else 409).'),
}).meta({ id: 'UpdateTenantRequest' });

const ReasonSchema = z.string().trim().min(1).max(500);

export const DisableTenantRequestSchema = z
  .strictObject({
    reason: ReasonSchema.describe(
      'Why: kept on the tenant, and the reason its stopped runs end `canceled` with.',
    ),
  })
  .meta({ id: 'DisableTenantRequest' });

export const DisabledTenantSchema = TenantViewSchema.extend({
  stopped_runs: z
    .array(z.string())
    .describe('The runs this request ended `canceled` (queued or running): at most a page of 100.'),
  continues_in_background: z
    .boolean()
    .describe(
      'True when the tenant had more runs than one request stops (100): the rest are being stopped in the background, page by page; list the tenant’s queued and running runs to follow.',
    ),
}).meta({ id: 'DisabledTenant' });

export const StopRunsRequestSchema = z
  .strictObject({
    run_ids: z.array(RunIdSchema).min(1).max(100).optional().describe('The runs to stop.'),
    all: z.literal(true).optional().describe('Stop every queued or running run of the tenant.'),
    reason: ReasonSchema.describe('The operator’s reason, carried by each run’s `run.canceled` event.'),
  })
  .refine((request) => (request.run_ids === undefined) !== (request.all === undefined), {
    error: 'give exactly one of run_ids and all',
    path: ['run_ids'],
  })
  .meta({ id: 'StopRunsRequest' });

export const StopRunsResultSchema = z
  .strictObject({
    object: z.literal('run_stop'),
    tenant_id: TenantIdSchema,
    reason: z.string(),
    stopped: z
      .array(z.string())
      .describe('Runs this request ended `canceled`; with `all`, at most a page of 100.'),
    continues_in_background: z
      .boolean()
      .describe(
        'True when the tenant had more runs than one request stops (100): the rest are being stopped in the background, page by page; list the tenant’s queued and running runs to follow.',
      ),
    already_over: z
      .array(z.strictObject({ run_id: z.string(), status: RunStatusSchema }))
      .describe('Runs that were already over, left as they were.'),
    not_found: z.array(z.string()).describe('Ids that name no run of the tenant.'),
  })
  .meta({ id: 'StopRunsResult' });

const TenantPathSchema = z.strictObject({
  tenant_id: TenantIdSchema.describe(
    'The tenant id; a malformed id is answered like an unknown tenant (404).',
  ),
});

const tenantContent = { 'application/json': { schema: TenantViewSchema } };

const operatorErrors = {
  403: {
    description:
      'forbidden: the token lacks the `operator` scope or is not a token of the operator tenant (the scope alone is not enough).',
  },
  503: { description: 'dependency_unavailable: the tenant directory could not be reached; retry.' },
};

const unknownTenant = { description: 'not_found: no such tenant.' };

export const createTenant = defineRoute({
  operationId: 'createTenant',
  method: 'POST',
  path: '/v1/admin/tenants',
  scope: scopes.operator,
  tags: ['Tenants'],
  summary: 'Register a tenant',
  description:
    'Registers an active tenant. Quotas not given take the node’s defaults; the tool allow-list defaults to ' +
    'every built-in and the tenant’s own tools. Tokens of an unregistered tenant are refused at ingress.',
  request: { body: CreateTenantRequestSchema },
  responses: {
    201: {
      description: 'The tenant was registered.',
      headers: [
        { name: 'Location', required: true, description: 'The tenant: /v1/admin/tenants/{tenant_id}.' },
      ],
      content: tenantContent,
    },
    400: { description: 'invalid_request: malformed JSON or an unknown or invalid field.' },
    409: {
      description:
        'conflict: a tenant with this id exists (also the answer to the loser of two concurrent creates), or the ' +
        'id cannot be used on this node.',
    },
    ...operatorErrors,
    503: {
      description:
        'dependency_unavailable: the tenant directory could not be reached, or concurrent changes kept the create ' +
        'from completing; retry.',
    },
  },
});

export const listTenants = defineRoute({
  operationId: 'listTenants',
  method: 'GET',
  path: '/v1/admin/tenants',
  scope: scopes.operator,
  tags: ['Tenants'],
  summary: 'List the node’s tenants',
  request: { query: ListQuerySchema },
  responses: {
    200: { description: 'A page of tenants.', content: { 'application/json': { schema: TenantListSchema } } },
    400: { description: 'invalid_request: an invalid `limit` or `cursor`.' },
    ...operatorErrors,
  },
});

export const getTenant = defineRoute({
  operationId: 'getTenant',
  method: 'GET',
  path: '/v1/admin/tenants/{tenant_id}',
  scope: scopes.operator,
  tags: ['Tenants'],
  summary: 'Read a tenant',
  description: 'Its status, quotas and tool allow-list, and where its model policy is administered.',
  request: { params: TenantPathSchema, invalidParams: 'not_found' },
  responses: {
    200: { description: 'The tenant.', content: tenantContent },
    404: unknownTenant,
    ...operatorErrors,
  },
});

export const updateTenant = defineRoute({
  operationId: 'updateTenant',
  method: 'PATCH',
  path: '/v1/admin/tenants/{tenant_id}',
  scope: scopes.operator,
  tags: ['Tenants'],
  summary: 'Change a tenant’s quotas, name or tool allow-list',
  description:
    'Only the fields given change (quotas field by field). Running function instances apply the change within ' +
    'their tenant cache time (5 seconds). With `expected_version`, only if the tenant is still at that version.',
  request: { params: TenantPathSchema, invalidParams: 'not_found', body: UpdateTenantRequestSchema },
  responses: {
    200: { description: 'The changed tenant.', content: tenantContent },
    400: { description: 'invalid_request: malformed JSON or an unknown or invalid field.' },
    404: unknownTenant,
    409: { description: 'conflict: the tenant is no longer at `expected_version`.' },
    ...operatorErrors,
  },
});

export const disableTenant = defineRoute({
  operationId: 'disableTenant',
  method: 'POST',
  path: '/v1/admin/tenants/{tenant_id}:disable',
  scope: scopes.operator,
  tags: ['Tenants'],
  summary: 'Disable a tenant and stop its runs',
  description:
    'The tenant’s tokens are refused (403 forbidden, `tenant_disabled`) within the tenant cache time (5 seconds) ' +
    'on every function instance, at once on this one. Its queued and running runs end `canceled` with the ' +
    'reason, so their event streams end with `run.canceled`: a page of them (100) within the request, the rest ' +
    'in the background (`continues_in_background`). Disabling a disabled tenant updates the reason and ' +
    'stops any run still going.',
  request: { params: TenantPathSchema, invalidParams: 'not_found', body: DisableTenantRequestSchema },
  responses: {
    200: {
      description: 'The disabled tenant and the runs stopped.',
      content: { 'application/json': { schema: DisabledTenantSchema } },
    },
    400: { description: 'invalid_request: no `reason`, or an unknown field.' },
    404: unknownTenant,
    409: { description: 'conflict: the operator tenant cannot be disabled.' },
    ...operatorErrors,
  },
});

export const enableTenant = defineRoute({
  operationId: 'enableTenant',
  method: 'POST',
  path: '/v1/admin/tenants/{tenant_id}:enable',
  scope: scopes.operator,
  tags: ['Tenants'],
  summary: 'Re-enable a disabled tenant',
  description: 'Its tokens are admitted again; runs stopped by the disable stay canceled.',
  request: { params: TenantPathSchema, invalidParams: 'not_found' },
  responses: {
    200: { description: 'The active tenant.', content: tenantContent },
    404: unknownTenant,
    ...operatorErrors,
  },
});

export const listTenantRuns = defineRoute({
  operationId: 'listTenantRuns',
  method: 'GET',
  path: '/v1/admin/tenants/{tenant_id}/runs',
  scope: scopes.operator,
  tags: ['Tenants'],
  summary: 'List a tenant’s runs, newest first',
  description: 'Every run of the tenant (any principal), optionally only those in one status.',
  request: { params: TenantPathSchema, invalidParams: 'not_found', query: RunListQuerySchema },
  responses: {
    200: { description: 'A page of runs.', content: { 'application/json': { schema: RunPageSchema } } },
    400: { description: 'invalid_request: an invalid status, limit or cursor.' },
    404: unknownTenant,
    ...operatorErrors,
  },
});

export const stopTenantRuns = defineRoute({
  operationId: 'stopTenantRuns',
  method: 'POST',
  path: '/v1/admin/tenants/{tenant_id}/runs:stop',
  scope: scopes.operator,
  tags: ['Tenants'],
  summary: 'Stop a tenant’s runs (kill switch)',
  description:
    'Ends the given runs, or every queued and running run of the tenant (`all: true`), `canceled` with the ' +
    'reason: a `run.canceled` event ends their event streams, a long run’s Step Functions execution is stopped, ' +
    'their run slots are freed, and a step in flight ends at its next commit. Runs already over are left as ' +
    'they are. With `all`, a page of runs (100) is stopped within the request and the rest in the background, ' +
    'page by page (`continues_in_background`). Each stop is audit-logged with the operator, the tenant, the ' +
    'runs and the reason.',
  request: { params: TenantPathSchema, invalidParams: 'not_found', body: StopRunsRequestSchema },
  responses: {
    200: {
      description: 'What happened to each run.',
      content: { 'application/json': { schema: StopRunsResultSchema } },
    },
    400: { description: 'invalid_request: no `reason`, or not exactly one of `run_ids` and `all`.' },
    404: unknownTenant,
    ...operatorErrors,
    503: {
      description: 'dependency_unavailable: the tenant directory or run storage could not be reached; retry.',
    },
  },
});

/** The operator routes, in document order. */
export const tenantAdminRoutes = [
  createTenant,
  listTenants,
  getTenant,
  updateTenant,
  disableTenant,
  enableTenant,
  listTenantRuns,
  stopTenantRuns,
] as const;
