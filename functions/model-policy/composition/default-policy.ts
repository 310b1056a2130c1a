import type { z } from 'zod';
import type { TenantModelPolicySchema } from '../schemas/tenant-policy.ts';

/**
 * The policy of a tenant that has none of its own when `AGENTOS_MODEL_DEFAULT_POLICY` is not set:
 * every catalog model, input redaction on, and finite cost and token budgets per day and month.
 */
export const defaultTenantPolicy: z.input<typeof TenantModelPolicySchema> = {
  entitlements: { allow: ['*'], deny: [] },
  max_tokens: 4096,
  default_max_tokens: 1024,
  redaction: { input: true, output: false },
  deny_rules: [],
  budgets: [
    { scope: 'tenant', period: 'month', limit_usd: 100, limit_tokens: 50_000_000 },
    { scope: 'tenant', period: 'day', limit_usd: 20, limit_tokens: 5_000_000 },
  ],
};
