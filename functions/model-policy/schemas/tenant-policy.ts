import { z } from 'zod';
import { isValidDenyPattern } from '../policy/deny-pattern.ts';

/**
 * A tenant's model policy (HLD §5.2, §5.3): entitlements, the max-tokens cap, redaction, deny rules
 * and budgets. Operators set it through the admin API; tenants without one get the node default.
 */

/** Kinds of sensitive text the policy can redact; counts in decisions are keyed by these names. */
export const redactionKinds = [
  'email',
  'phone',
  'payment_card',
  'openai_key',
  'aws_access_key',
  'aws_secret_key',
  'github_token',
  'slack_token',
  'bearer_token',
] as const;

/** One of {@link redactionKinds}. */
export type RedactionKind = (typeof redactionKinds)[number];

/** A model glob such as `local/*`, `openai/gpt-4o*`, `tier:*` or `*`. */
export const ModelGlobSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9._:/*?@+-]{1,200}$/,
    'model globs are 1-200 characters of A-Z a-z 0-9 . _ : / * ? @ + -',
  );

/** A rule that refuses calls: every condition it names must hold (model, principal, content). */
export const DenyRuleSchema = z
  .strictObject({
    id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'rule ids are 1-64 characters of A-Z a-z 0-9 . _ -'),
    reason: z.string().min(1).max(500),
    /** Globs of the requested `model_ref`. */
    models: z.array(ModelGlobSchema).min(1).max(50).optional(),
    /** Globs of the calling principal's id. */
    principals: z.array(z.string().min(1).max(256)).min(1).max(50).optional(),
    /**
     * Case-insensitive regular expressions in RE2 syntax (no backreferences or lookaround), tested
     * against the text of every message in time linear in its length. Validating them needs RE2
     * loaded first: `prepareDenyPatterns(value)` before parsing.
     */
    content: z
      .array(
        z
          .string()
          .min(1)
          .max(500)
          .refine(isValidDenyPattern, 'not a valid RE2 regular expression (no backreferences or lookaround)'),
      )
      .min(1)
      .max(50)
      .optional(),
  })
  .refine(
    (rule) => rule.models !== undefined || rule.principals !== undefined || rule.content !== undefined,
    'a deny rule needs at least one of models, principals, content',
  )
  .meta({ id: 'DenyRule' });

/** A validated deny rule. */
export type DenyRule = z.infer<typeof DenyRuleSchema>;

/** Whose spending a budget bounds. */
export const budgetScopes = ['tenant', 'principal', 'run'] as const;
/** One of {@link budgetScopes}. */
export type BudgetScope = (typeof budgetScopes)[number];
/** The UTC calendar period a budget resets with (`total` never resets). */
export const budgetPeriods = ['day', 'month', 'total'] as const;
/** One of {@link budgetPeriods}. */
export type BudgetPeriod = (typeof budgetPeriods)[number];

/** A budget: a cost and/or token limit for a scope and period. */
export const BudgetSchema = z
  .strictObject({
    /** Whose spending it bounds: the whole tenant, each principal, or each run (`attribution.run_id`). */
    scope: z.enum(budgetScopes),
    /** Calendar period in UTC; `total` never resets (meant for runs). */
    period: z.enum(budgetPeriods),
    /** Cost limit in USD (prices come from the catalog's price table). */
    limit_usd: z.number().min(0).max(1_000_000).optional(),
    /** Token limit (prompt + completion), which also bounds zero-priced models. */
    limit_tokens: z.number().int().min(0).max(1_000_000_000_000).optional(),
  })
  .refine(
    (budget) => budget.limit_usd !== undefined || budget.limit_tokens !== undefined,
    'a budget needs limit_usd or limit_tokens',
  )
  .meta({ id: 'Budget' });

/** A validated budget. */
export type Budget = z.infer<typeof BudgetSchema>;

/** A tenant's whole model policy, as operators set it. */
export const TenantModelPolicySchema = z
  .strictObject({
    entitlements: z.strictObject({
      /** Models (and tiers) the tenant may use; a model must match one of these… */
      allow: z.array(ModelGlobSchema).max(100),
      /** …and none of these. */
      deny: z.array(ModelGlobSchema).max(100).default([]),
    }),
    /** Upper bound of output tokens per call; larger requests are lowered to it. */
    max_tokens: z.number().int().positive().max(1_000_000),
    /** Output tokens of a call that names none; defaults to `max_tokens`. */
    default_max_tokens: z.number().int().positive().max(1_000_000).optional(),
    redaction: z
      .strictObject({
        /** Redact sensitive text in what is sent to the model. */
        input: z.boolean(),
        /** Redact sensitive text in what the model answers. */
        output: z.boolean().default(false),
        /** Kinds to redact; all of them when absent. */
        kinds: z.array(z.enum(redactionKinds)).min(1).optional(),
      })
      .default({ input: true, output: false }),
    deny_rules: z.array(DenyRuleSchema).max(100).default([]),
    budgets: z.array(BudgetSchema).min(1).max(20),
  })
  .superRefine((policy, context) => {
    const tenantBudgets = policy.budgets.filter((budget) => budget.scope === 'tenant');
    if (!tenantBudgets.some((budget) => budget.limit_tokens !== undefined)) {
      context.addIssue({
        code: 'custom',
        path: ['budgets'],
        message: 'at least one tenant-scope budget needs limit_tokens (zero-priced models are capped too)',
      });
    }
    if (!tenantBudgets.some((budget) => budget.limit_usd !== undefined)) {
      context.addIssue({
        code: 'custom',
        path: ['budgets'],
        message: 'at least one tenant-scope budget needs limit_usd',
      });
    }
    const seen = new Set<string>();
    policy.budgets.forEach((budget, index) => {
      const key = `${budget.scope}/${budget.period}`;
      if (seen.has(key)) {
        context.addIssue({
          code: 'custom',
          path: ['budgets', index],
          message: `more than one ${budget.scope} budget per ${budget.period}`,
        });
      }
      seen.add(key);
    });
    if (policy.default_max_tokens !== undefined && policy.default_max_tokens > policy.max_tokens) {
      context.addIssue({
        code: 'custom',
        path: ['default_max_tokens'],
        message: 'default_max_tokens cannot exceed max_tokens',
      });
    }
    const ruleIds = new Set<string>();
    policy.deny_rules.forEach((rule, index) => {
      if (ruleIds.has(rule.id)) {
        context.addIssue({ code: 'custom', path: ['deny_rules', index, 'id'], message: 'duplicate rule id' });
      }
      ruleIds.add(rule.id);
    });
  })
  .meta({ id: 'TenantModelPolicy' });

/** A validated tenant policy (defaults applied). */
export type TenantModelPolicy = z.output<typeof TenantModelPolicySchema>;
