import { z } from 'zod';
import { TenantIdSchema } from '../auth/auth-context.ts';

/**
 * What a tenant is on a node (HLD §5.1, §5.2): a registered id with a status, its quotas and its tool
 * allow-list. Model entitlements and budgets are the Model Policy's tenant policy
 * (`/v1/admin/tenants/{tenant_id}/model-policy`), never copied here.
 */

/** A principal id: the `sub` of its tokens. */
export const PrincipalIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9._:@+=-]{1,128}$/, 'principal ids are 1-128 characters of A-Z, a-z, 0-9 and ._:@+=-');

/**
 * A tenant's quotas. Each applies per tenant across every function instance of the node (the limiter
 * state lives in DynamoDB). Absent fields take the node's defaults ({@link defaultTenantQuotas}).
 * Counted quotas stay within one slot pool's 5,000 leases: queued runs may also use the tenant's free
 * run slots, so concurrent plus queued runs are at most 5,000.
 */
export const TenantQuotasSchema = z
  .strictObject({
    /** Sustained run creations per second (token bucket refill rate). */
    runs_per_second: z.number().positive().max(10_000),
    /** Run creations accepted at once on top of the sustained rate (token bucket size). */
    run_burst: z.int().min(1).max(100_000),
    /** Runs of the tenant running at once; more wait as `queued` (up to `max_queued_runs`). */
    max_concurrent_runs: z.int().min(1).max(2_000),
    /** Runs of the tenant waiting for a run slot; one more is refused with `rate_limited`. */
    max_queued_runs: z.int().min(0).max(3_000),
    /** Tool calls of the tenant's runs per minute; a call over it fails with the tool error `rate_limited`. */
    tool_calls_per_minute: z.int().min(1).max(1_000_000),
    /** Event streams (SSE) the tenant may hold open at once. */
    max_sse_connections: z.int().min(1).max(5_000),
    /**
     * Sustained model calls per second through the Model Policy (token bucket refill rate). Absent
     * on a tenant registered before this quota existed: the default applies.
     */
    model_requests_per_second: z.number().positive().max(10_000).optional(),
    /** Model calls accepted at once on top of the sustained rate (token bucket size); absent as above. */
    model_request_burst: z.int().min(1).max(100_000).optional(),
  })
  .meta({ id: 'TenantQuotas' });

export type TenantQuotas = z.infer<typeof TenantQuotasSchema>;

/** The quotas of a tenant that sets none. */
export const defaultTenantQuotas: Required<TenantQuotas> = {
  runs_per_second: 10,
  run_burst: 20,
  max_concurrent_runs: 50,
  max_queued_runs: 500,
  tool_calls_per_minute: 600,
  max_sse_connections: 200,
  // Twice the run rate, so the tenant's runs at their own default rate each have room for a model call or two.
  model_requests_per_second: 20,
  model_request_burst: 40,
};

/** A tool id in an allow-list (a built-in or one of the tenant's HTTP tools). */
const AllowedToolIdSchema = z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/);

/** What an operator sets when creating or updating a tenant. */
export const TenantSpecSchema = z
  .strictObject({
    display_name: z.string().min(1).max(200).optional(),
    /** Only the quotas given are changed; the others keep their value (or the default). */
    quotas: TenantQuotasSchema.partial().optional(),
    /**
     * The tools the tenant's runs may call; `null` (the default) allows every built-in and the
     * tenant's own HTTP tools.
     */
    tool_allowlist: z.array(AllowedToolIdSchema).max(256).nullable().optional(),
  })
  .meta({ id: 'TenantSpec' });

export type TenantSpec = z.infer<typeof TenantSpecSchema>;

/** `POST /v1/admin/tenants`. */
export const CreateTenantRequestSchema = TenantSpecSchema.extend({ tenant_id: TenantIdSchema }).meta({
  id: 'CreateTenantRequest',
});

export type CreateTenantRequest = z.infer<typeof CreateTenantRequestSchema>;

export const TenantStatusSchema = z.enum(['active', 'disabled']);
export type TenantStatus = z.infer<typeof TenantStatusSchema>;

/** A tenant as stored and as operators read it. */
export const TenantSchema = z
  .object({
    object: z.literal('tenant'),
    tenant_id: TenantIdSchema,
    display_name: z.string(),
    status: TenantStatusSchema,
    /** Why the tenant is disabled (the operator's words); `null` while active. */
    disabled_reason: z.string().nullable(),
    quotas: TenantQuotasSchema,
    tool_allowlist: z.array(z.string()).nullable(),
    /** Increases on every change; `PATCH` may require it (`expected_version`). */
    version: z.int().min(1),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
    updated_by: z.string(),
  })
  .meta({ id: 'Tenant' });

export type Tenant = z.infer<typeof TenantSchema>;

/** A principal of a tenant: who may call, with which scopes (HLD §3.3). */
export const PrincipalSpecSchema = z
  .strictObject({
    type: z.enum(['user', 'service']).default('user'),
    display_name: z.string().min(1).max(200).optional(),
    /** The scopes its tokens may carry; a token issued for it never carries more. */
    scopes: z.array(z.string().min(1).max(64)).min(1).max(64),
  })
  .meta({ id: 'PrincipalSpec' });

export type PrincipalSpec = z.infer<typeof PrincipalSpecSchema>;

export const PrincipalSchema = z
  .object({
    object: z.literal('principal'),
    tenant_id: TenantIdSchema,
    principal_id: PrincipalIdSchema,
    type: z.enum(['user', 'service']),
    display_name: z.string(),
    scopes: z.array(z.string()),
    status: z.enum(['active', 'disabled']),
    /** Increases on every change (also disabling and enabling); `PUT` may require it (`If-Match`). */
    version: z.int().min(1),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .meta({ id: 'Principal' });

export type Principal = z.infer<typeof PrincipalSchema>;

/** A token the node issued for a principal; the token itself is shown once, when issued. */
export const IssuedTokenSchema = z
  .object({
    object: z.literal('token'),
    /** The token's `jti`. */
    token_id: z.string().min(1).max(128),
    tenant_id: TenantIdSchema,
    principal_id: PrincipalIdSchema,
    scopes: z.array(z.string()),
    issued_at: z.iso.datetime(),
    expires_at: z.iso.datetime(),
    revoked_at: z.iso.datetime().nullable(),
    /**
     * The tenant admin who issued it (its principal id; also the token's `issued_by` claim); `null`
     * for a token recorded before issuers were recorded.
     */
    issued_by: z.string().nullable(),
  })
  .meta({ id: 'IssuedToken' });

export type IssuedToken = z.infer<typeof IssuedTokenSchema>;

/**
 * What ingress needs to admit a token of the tenant, kept in the tenant's record so admission is
 * one cached read: its status, and the revocations still relevant (a revoked token id until the
 * token would have expired anyway; a principal's "tokens issued before" time until every token
 * issued before it has expired — tokens live at most the node's maximum lifetime).
 */
export type TenantAccess = {
  tenant: Tenant;
  /** Revoked token ids (`jti`) → epoch seconds after which the entry can be forgotten. */
  revokedTokens: Readonly<Record<string, number>>;
  /** Principal id → epoch seconds: tokens of that principal issued at or before it are refused. */
  principalsRevokedBefore: Readonly<Record<string, number>>;
  /** Principals disabled now: each of their tokens is refused, whoever issued it (HLD §5.2). */
  disabledPrincipals: ReadonlySet<string>;
};
