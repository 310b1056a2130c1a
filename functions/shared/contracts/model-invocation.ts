import { z } from 'zod';
import {
  AssistantMessageSchema,
  ChatMessageSchema,
  FinishReasonSchema,
  ToolDefinitionSchema,
} from './chat.ts';

/**
 * The native Model Policy invocation (HLD §6.1): what the Orchestrator's ModelPort sends to
 * `POST /v1/models/{model_ref}:invoke` and what it gets back. The caller's Auth Context travels in
 * its bearer token, where it can be verified, not in the body.
 */

export const RequestIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9._:/-]{1,200}$/, 'request ids are 1-200 characters of A-Z a-z 0-9 . _ : / -');

export const ModelRequirementsSchema = z
  .strictObject({
    tools: z.boolean().optional(),
    max_latency_ms: z.number().int().positive().optional(),
  })
  .meta({ id: 'ModelRequirements' });

export const ModelInvokeRequestSchema = z
  .strictObject({
    request_id: RequestIdSchema,
    messages: z.array(ChatMessageSchema).min(1).max(500),
    tools: z.array(ToolDefinitionSchema).max(128).optional(),
    max_tokens: z.number().int().positive().max(1_000_000).optional(),
    temperature: z.number().min(0).max(2).optional(),
    requirements: ModelRequirementsSchema.optional(),
    attribution: z
      .strictObject({
        run_id: z.string().max(200).optional(),
        step: z.number().int().nonnegative().optional(),
      })
      .optional(),
  })
  .meta({ id: 'ModelInvokeRequest' });

export type ModelInvokeRequest = z.infer<typeof ModelInvokeRequestSchema>;

export const UsageSchema = z
  .strictObject({
    prompt_tokens: z.number().int().nonnegative(),
    completion_tokens: z.number().int().nonnegative(),
    total_tokens: z.number().int().nonnegative(),
    cost_usd: z.number().nonnegative(),
  })
  .meta({ id: 'ModelUsage' });

export type ModelUsage = z.infer<typeof UsageSchema>;

export const RouteHopSchema = z
  .strictObject({
    provider: z.string(),
    model: z.string(),
    outcome: z.enum(['ok', 'fallback']),
    reason: z.string().optional(),
    status: z.number().int().optional(),
    latency_ms: z.number().nonnegative(),
  })
  .meta({ id: 'RouteHop' });

export type RouteHop = z.infer<typeof RouteHopSchema>;

export const RouteSchema = z
  .strictObject({
    model_ref: z.string(),
    provider: z.string(),
    model: z.string(),
    hops: z.array(RouteHopSchema),
  })
  .meta({ id: 'ModelRoute' });

export type ModelRoute = z.infer<typeof RouteSchema>;

export const PolicyOutcomeSchema = z
  .strictObject({
    decision: z.enum(['allow', 'redact', 'deny']),
    redactions: z.record(z.string(), z.number().int().nonnegative()),
    rules: z.array(
      z.strictObject({ id: z.string(), effect: z.enum(['deny', 'redact']), reason: z.string() }),
    ),
    max_tokens_applied: z.number().int().nonnegative().optional(),
    /** Redactions applied to the model's answer, per kind, when the tenant redacts output. */
    output_redactions: z.record(z.string(), z.number().int().nonnegative()).optional(),
  })
  .meta({ id: 'PolicyOutcome' });

export type PolicyOutcome = z.infer<typeof PolicyOutcomeSchema>;

export const ModelInvokeResponseSchema = z
  .strictObject({
    request_id: RequestIdSchema,
    correlation_id: z.string(),
    output: z.strictObject({ message: AssistantMessageSchema, finish_reason: FinishReasonSchema }),
    usage: UsageSchema,
    route: RouteSchema,
    policy: PolicyOutcomeSchema,
    replayed: z.boolean(),
  })
  .meta({ id: 'ModelInvokeResponse' });

export type ModelInvokeResponse = z.infer<typeof ModelInvokeResponseSchema>;
