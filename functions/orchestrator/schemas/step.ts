import { z } from 'zod';
import { ListLimitSchema, RunErrorSchema, RunIdSchema, RunUsageSchema } from './run.ts';
import { ToolErrorSchema } from './tool.ts';

/** One attempt of one tool call. */
export const ToolAttemptSchema = z
  .strictObject({
    attempt: z.number().int().min(1),
    started_at: z.iso.datetime(),
    duration_ms: z.number().int().nonnegative(),
    is_error: z.boolean(),
    error: ToolErrorSchema.optional(),
    /** The result given to the model (or the error text), cut at 16 KiB here; the events keep it whole. */
    output: z.string(),
  })
  .meta({ id: 'ToolAttempt' });
export type ToolAttempt = z.infer<typeof ToolAttemptSchema>;

export const ToolCallRecordSchema = z
  .strictObject({
    tool_call_id: z.string(),
    name: z.string(),
    arguments: z.string(),
    /** The idempotency key the call carried (`Idempotency-Key` for HTTP tools): run, step and call index. */
    idempotency_key: z.string(),
    attempts: z.array(ToolAttemptSchema),
  })
  .meta({ id: 'ToolCallRecord' });
export type ToolCallRecord = z.infer<typeof ToolCallRecordSchema>;

/** A step as `GET /v1/runs/{run_id}/steps` returns it: enough to debug or replay it. */
export const StepRecordSchema = z
  .strictObject({
    object: z.literal('step'),
    run_id: RunIdSchema,
    step: z.number().int().min(1),
    status: z.enum(['completed', 'failed']),
    started_at: z.iso.datetime(),
    ended_at: z.iso.datetime(),
    duration_ms: z.number().int().nonnegative(),
    /** Deliveries of this step's task it took (1 unless a delivery failed or was retried). */
    deliveries: z.number().int().min(1),
    model: z.strictObject({
      request_id: z.string(),
      model_ref: z.string(),
      /** Messages sent (system, input, transcript tail) and their size in bytes. */
      message_count: z.number().int().nonnegative(),
      request_bytes: z.number().int().nonnegative(),
      finish_reason: z.string().nullable(),
      usage: RunUsageSchema.nullable(),
      /** The provider and model that answered. */
      provider: z.string().nullable(),
      model: z.string().nullable(),
      duration_ms: z.number().int().nonnegative(),
    }),
    tool_calls: z.array(ToolCallRecordSchema),
    error: RunErrorSchema.nullable(),
  })
  .meta({ id: 'Step' });
export type StepRecord = z.infer<typeof StepRecordSchema>;

/** Query of `GET /v1/runs/{run_id}/steps`. */
export const StepQuerySchema = z.strictObject({
  after: z.coerce
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe('Return steps after this step number (default 0: from the first).'),
  limit: ListLimitSchema,
  cursor: z
    .string()
    .regex(/^\d{1,4}$/, 'must be a next_cursor of this list')
    .optional()
    .describe('The `next_cursor` of the previous page (the same as `after`).'),
});

/** A page of a run's steps, in step order. */
export const StepPageSchema = z
  .strictObject({
    object: z.literal('list'),
    data: z.array(StepRecordSchema),
    next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page.'),
  })
  .meta({ id: 'StepPage' });
