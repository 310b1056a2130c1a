import { z } from 'zod';
import { ChatMessageSchema, ToolDefinitionSchema } from '../../shared/contracts/chat.ts';
import { PolicyOutcomeSchema } from '../../shared/contracts/model-invocation.ts';
import { budgetPeriods, budgetScopes } from './tenant-policy.ts';

/** `POST /v1/policy/check`: what a call would be allowed to do, without calling a model. */
export const PolicyCheckRequestSchema = z
  .strictObject({
    model_ref: z.string().min(1).max(256),
    messages: z.array(ChatMessageSchema).max(500).default([]),
    tools: z.array(ToolDefinitionSchema).max(128).optional(),
    max_tokens: z.number().int().positive().max(1_000_000).optional(),
    attribution: z.strictObject({ run_id: z.string().min(1).max(200).optional() }).optional(),
  })
  .meta({ id: 'PolicyCheckRequest' });

/** A validated policy check request (defaults applied). */
export type PolicyCheckRequest = z.output<typeof PolicyCheckRequestSchema>;

/** Names a budget by scope and period. */
export const BudgetLimitRefSchema = z.strictObject({
  scope: z.enum(budgetScopes),
  period: z.enum(budgetPeriods),
});

/** What the policy and the budgets make of a call, without calling a model. */
export const PolicyCheckResponseSchema = z
  .strictObject({
    object: z.literal('policy.check'),
    model_ref: z.string(),
    allowed: z.boolean(),
    policy: PolicyOutcomeSchema,
    /** Models the call would try, in order, after entitlements. */
    chain: z.array(z.string()),
    denial: z
      .strictObject({
        code: z.enum(['forbidden', 'not_found', 'invalid_request', 'budget_exceeded']),
        message: z.string(),
      })
      .nullable(),
    /** What the budgets would let this call reserve now; null when the call is denied. */
    budget: z
      .strictObject({
        within_budget: z.boolean(),
        max_output_tokens: z.number().int(),
        reserve_tokens: z.number().int().nonnegative(),
        reserve_cost_usd: z.number().nonnegative(),
        limited_by: BudgetLimitRefSchema.nullable(),
      })
      .nullable(),
  })
  .meta({ id: 'PolicyCheckResponse' });

/** The policy check as the gateway answers it. */
export type PolicyCheckResponse = z.infer<typeof PolicyCheckResponseSchema>;
