import { z } from 'zod';
import { TenantModelPolicySchema } from './tenant-policy.ts';

/** `GET`/`PUT /v1/admin/tenants/{tenant_id}/model-policy`: a tenant's policy as an operator sees it. */
export const TenantModelPolicyDocumentSchema = z
  .strictObject({
    object: z.literal('tenant.model_policy'),
    tenant_id: z.string(),
    /** `default` when the tenant has no policy of its own and the node default applies. */
    source: z.enum(['stored', 'default']),
    /** Increases with every change; 0 for the default. */
    version: z.number().int().nonnegative(),
    updated_at: z.string().nullable(),
    updated_by: z.string().nullable(),
    policy: TenantModelPolicySchema,
  })
  .meta({ id: 'TenantModelPolicyDocument' });

/** The policy document as the admin API answers it. */
export type TenantModelPolicyDocument = z.infer<typeof TenantModelPolicyDocumentSchema>;
