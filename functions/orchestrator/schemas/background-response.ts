import { z } from 'zod';
import { AgentIdSchema, MetadataSchema, RunIdSchema } from './run.ts';

/**
 * OpenAI Responses-style background mode over runs (HLD §2.1 product-facing API): an OpenAI client
 * whose base URL is the Orchestrator's `/v1` creates, polls, streams and cancels an agent's run as a
 * background response. The request and answer keep the Responses API's field names; the model is the
 * agent id.
 */

const InputTextPartSchema = z.strictObject({ type: z.literal('input_text'), text: z.string().max(100_000) });

/** One input message: a user turn, or system/developer instructions. */
const InputMessageSchema = z.strictObject({
  type: z.literal('message').optional(),
  role: z.enum(['user', 'system', 'developer']),
  content: z.union([z.string().max(100_000), z.array(InputTextPartSchema).min(1).max(100)]),
});

export type InputMessage = z.infer<typeof InputMessageSchema>;

/** `POST /v1/responses` body. Unknown fields are refused with 400 naming them. */
export const CreateBackgroundResponseRequestSchema = z
  .strictObject({
    model: AgentIdSchema.describe('The agent to run (its id).'),
    input: z
      .union([z.string().min(1).max(100_000), z.array(InputMessageSchema).min(1).max(100)])
      .describe('The user’s text, or input messages (user, system or developer; text parts only).'),
    instructions: z.string().max(100_000).optional().describe('Added as a system message before the input.'),
    metadata: MetadataSchema.optional(),
    background: z
      .boolean()
      .describe('Must be true: the response is a run that goes on after this request answers.'),
    stream: z
      .boolean()
      .optional()
      .describe('Answer with the response’s typed events instead of the response.'),
    store: z
      .boolean()
      .optional()
      .describe('Accepted for compatibility; a background response is always kept, as its run is.'),
  })
  .meta({ id: 'CreateBackgroundResponseRequest' });

export type CreateBackgroundResponseRequest = z.infer<typeof CreateBackgroundResponseRequestSchema>;

/** A background response's id: `resp_` and the run id's 26 characters. */
export const ResponseIdSchema = z
  .string()
  .regex(/^resp_[a-z0-9]{26}$/, 'response ids look like resp_ followed by 26 characters');

/** The response id of a run. */
export function responseIdOf(runId: string): string {
  return `resp_${runId.slice('run_'.length)}`;
}

/** The run of a response id, or undefined when it names none. */
export function runIdOf(responseId: string): string | undefined {
  const runId = `run_${responseId.slice('resp_'.length)}`;
  return ResponseIdSchema.safeParse(responseId).success && RunIdSchema.safeParse(runId).success
    ? runId
    : undefined;
}

/** `GET /v1/responses/{response_id}` query. */
export const RetrieveBackgroundResponseQuerySchema = z.strictObject({
  stream: z
    .enum(['true', 'false'])
    .optional()
    .describe('`true`: answer with the response’s typed events (server-sent events) instead.'),
  starting_after: z.coerce
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe('With stream=true: only events whose sequence_number is greater than this.'),
  include: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .describe('Accepted and ignored.'),
  // The openai client sends arrays in brackets form (`include[]=…`).
  'include[]': z
    .string()
    .optional()
    .describe('Accepted and ignored (`include` as the openai client sends it).'),
  include_obfuscation: z.enum(['true', 'false']).optional().describe('Accepted and ignored.'),
});

const OutputTextSchema = z.looseObject({
  type: z.literal('output_text'),
  text: z.string(),
  annotations: z.array(z.unknown()),
});

/** The answer message of a completed response. */
export const OutputMessageSchema = z.looseObject({
  id: z.string(),
  type: z.literal('message'),
  role: z.literal('assistant'),
  status: z.enum(['in_progress', 'completed']),
  content: z.array(OutputTextSchema),
});

export type OutputMessage = z.infer<typeof OutputMessageSchema>;

/** A response status, from its run's. */
export const BackgroundResponseStatusSchema = z.enum([
  'queued',
  'in_progress',
  'completed',
  'failed',
  'cancelled',
]);

/** A background response, in the Responses API's shape, with its run under `agentos`. */
export const BackgroundResponseSchema = z
  .looseObject({
    id: ResponseIdSchema,
    object: z.literal('response'),
    created_at: z.number().int(),
    status: BackgroundResponseStatusSchema,
    background: z.literal(true),
    model: z.string(),
    output: z.array(OutputMessageSchema),
    error: z.strictObject({ code: z.string(), message: z.string() }).nullable(),
    incomplete_details: z.null(),
    instructions: z.null(),
    metadata: z.record(z.string(), z.string()),
    usage: z.strictObject({
      input_tokens: z.number().int().nonnegative(),
      input_tokens_details: z.strictObject({ cached_tokens: z.number().int().nonnegative() }),
      output_tokens: z.number().int().nonnegative(),
      output_tokens_details: z.strictObject({ reasoning_tokens: z.number().int().nonnegative() }),
      total_tokens: z.number().int().nonnegative(),
    }),
    parallel_tool_calls: z.boolean(),
    tool_choice: z.literal('auto'),
    tools: z.array(z.unknown()),
    text: z.strictObject({ format: z.strictObject({ type: z.literal('text') }) }),
    store: z.literal(true),
    agentos: z.strictObject({
      run_id: RunIdSchema,
      agent_version: z.number().int().min(1),
      events_url: z
        .string()
        .describe(
          'The run’s own event stream (GET /v1/runs/{run_id}/events): in a JSON answer an absolute URL with a ' +
            'short-lived `stream_token`, in a stream event the path.',
        ),
    }),
  })
  .meta({ id: 'BackgroundResponse' });

export type BackgroundResponse = z.infer<typeof BackgroundResponseSchema>;

/** One typed event of a background response's stream. */
export const BackgroundResponseEventSchema = z
  .looseObject({
    type: z.string().regex(/^response\./),
    sequence_number: z.number().int().nonnegative(),
  })
  .meta({ id: 'BackgroundResponseEvent' });

export type BackgroundResponseEvent = z.infer<typeof BackgroundResponseEventSchema> & Record<string, unknown>;
