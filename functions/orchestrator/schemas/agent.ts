import { z } from 'zod';
import { AgentIdSchema } from './run.ts';
import { ToolIdSchema } from './tool.ts';

/** How long a step may take when its agent says nothing (the agent's `step_timeout_seconds`). */
export const defaultStepTimeoutSeconds = 120;

/** What a failed model call does to the step (HLD §10.1). */
export const ModelErrorPolicySchema = z
  .strictObject({
    action: z
      .enum(['retry', 'abort'])
      .describe(
        '`retry`: a retryable failure (Model Policy unreachable, rate limited) is retried with backoff; ' +
          '`abort`: the run fails at once with the failure’s code (e.g. dependency_unavailable).',
      ),
    max_attempts: z.number().int().min(1).max(10).default(3),
    backoff_ms: z
      .number()
      .int()
      .min(0)
      .max(300_000)
      .default(1000)
      .describe('First delay; doubles per attempt.'),
  })
  .meta({ id: 'ModelErrorPolicy' });

/** What a failed tool call does (HLD §10.1). */
export const ToolErrorPolicySchema = z
  .strictObject({
    action: z
      .enum(['continue', 'retry', 'abort'])
      .describe(
        '`continue`: the error goes back to the model as the tool’s result; `retry`: retryable errors (timeout, ' +
          'network_error, http_error 429/5xx) are retried with backoff, an event per attempt, then follow ' +
          '`on_exhausted`, and other errors go back to the model; `abort`: any error fails the run `tool_failed`. ' +
          'invalid_arguments and not_allowed always go back to the model.',
      ),
    max_attempts: z.number().int().min(1).max(10).default(3),
    backoff_ms: z
      .number()
      .int()
      .min(0)
      .max(60_000)
      .default(500)
      .describe('First delay; doubles per attempt.'),
    on_exhausted: z
      .enum(['continue', 'abort'])
      .default('abort')
      .describe(
        'After the last `retry` attempt of a retryable error failed: hand the error to the model, or fail the run.',
      ),
  })
  .meta({ id: 'ToolErrorPolicy' });

/** What a client sends to create an agent or replace it with a new version. */
export const AgentSpecSchema = z
  .strictObject({
    name: z.string().min(1).max(200),
    description: z.string().max(2000).default(''),
    model_ref: z
      .string()
      .min(1)
      .max(200)
      .describe('A model of the Model Policy catalog, or a tier as `tier:<name>`.'),
    instructions: z.string().max(32_768).default('').describe('The system prompt of every step.'),
    tool_ids: z
      .array(ToolIdSchema)
      .max(64)
      .default([])
      .describe('The tools this agent may call (built-in ids or the tenant’s HTTP tools): its allow-list.'),
    max_steps: z.number().int().min(1).max(1000).default(10),
    max_tokens_per_step: z.number().int().min(1).max(100_000).default(1024),
    timeout_seconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .default(900)
      .describe('A run still going this long after it started fails with `run_timeout`.'),
    step_timeout_seconds: z
      .number()
      .int()
      .min(1)
      .max(900)
      .default(defaultStepTimeoutSeconds)
      .describe('Longest one step (its model call and tool calls) may take.'),
    tool_timeout_ms: z
      .number()
      .int()
      .min(100)
      .max(900_000)
      .default(10_000)
      .describe('Longest one tool call may take; an HTTP tool’s own `timeout_ms` caps it further.'),
    on_model_error: ModelErrorPolicySchema.default({ action: 'retry', max_attempts: 3, backoff_ms: 1000 }),
    on_tool_error: ToolErrorPolicySchema.default({
      action: 'continue',
      max_attempts: 1,
      backoff_ms: 500,
      on_exhausted: 'abort',
    }),
    run_mode: z
      .enum(['standard', 'long'])
      .default('standard')
      .describe(
        '`standard`: steps pass through the step queue; `long`: a Step Functions execution drives the run ' +
          '(task tokens, heartbeats, waits longer than a function can run).',
      ),
    memory_namespace: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/)
      .default('agents')
      .describe('Namespace of the memory built-in tools.'),
    max_context_bytes: z
      .number()
      .int()
      .min(1024)
      .max(4 * 1024 * 1024)
      .default(256 * 1024)
      .describe(
        'Most of the transcript a step sends to the model: the newest whole messages within this size.',
      ),
    max_transcript_bytes: z
      .number()
      .int()
      .min(1024)
      .max(256 * 1024 * 1024)
      .default(16 * 1024 * 1024)
      .describe('A run whose transcript would outgrow this fails `run_too_large`.'),
  })
  .meta({ id: 'AgentSpec' });
export type AgentSpec = z.output<typeof AgentSpecSchema>;

export const CreateAgentRequestSchema = AgentSpecSchema.extend({
  agent_id: AgentIdSchema.optional().describe('Chosen by the node (agt_…) when absent.'),
}).meta({ id: 'CreateAgentRequest' });
export type CreateAgentRequest = z.output<typeof CreateAgentRequestSchema>;

/** An agent version as stored and returned: every update makes a new version; runs keep theirs. */
export const AgentDefinitionSchema = AgentSpecSchema.extend({
  object: z.literal('agent'),
  agent_id: AgentIdSchema,
  version: z.number().int().min(1),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
}).meta({ id: 'Agent' });

export type AgentDefinition = z.output<typeof AgentDefinitionSchema>;
