import { z } from 'zod';
import {
  ChatMessageSchema,
  SystemMessageSchema,
  UserMessageSchema,
  AssistantMessageSchema,
} from '../../shared/contracts/chat.ts';
import { NodeIdSchema } from '../federation/schemas/peer-identity.ts';

/** Largest accepted `POST /v1/runs` body. */
export const maxCreateRunBytes = 128 * 1024;

export const runStatuses = ['queued', 'running', 'completed', 'failed', 'canceled'] as const;
export const RunStatusSchema = z.enum(runStatuses).meta({ id: 'RunStatus' });
export type RunStatus = z.infer<typeof RunStatusSchema>;

export const RunIdSchema = z
  .string()
  .regex(/^run_[a-z0-9]{26}$/, 'run ids look like run_ followed by 26 characters');
export const AgentIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,64}$/, 'agent ids are 1-64 characters of A-Z a-z 0-9 . _ -');

/** The most opening messages a run's input may hold. */
export const maxRunInputMessages = 100;

/** Input a client gives a run: the opening messages of the conversation. */
export const RunInputSchema = z
  .strictObject({
    messages: z
      .array(
        z.discriminatedUnion('role', [
          SystemMessageSchema.extend({ role: z.literal('system') }),
          UserMessageSchema,
        ]),
      )
      .min(1)
      .max(maxRunInputMessages),
  })
  .meta({ id: 'RunInput' });

export type RunInput = z.infer<typeof RunInputSchema>;

export const MetadataSchema = z
  .record(z.string().regex(/^[A-Za-z0-9._-]{1,64}$/), z.string().max(512))
  .refine((value) => Object.keys(value).length <= 16, 'at most 16 metadata keys')
  .meta({ id: 'Metadata' });

/** A model tier name, as in `model_ref` `tier:<name>`. */
export const ModelTierNameSchema = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'a model tier name');

/**
 * Where a run should run (HLD §7.3): on a named trusted peer, or wherever a model tier is offered
 * (this node first, then its peers trusted for the tenant).
 */
export const RunTargetSchema = z
  .union([
    z.strictObject({
      peer_id: NodeIdSchema.describe(
        'Run on this trusted peer; the tenant must federate with it (any other peer is not found, 404).',
      ),
    }),
    z.strictObject({
      model_tier: ModelTierNameSchema.describe(
        'Run where this model tier is offered: on this node when it offers it, else on the first trusted peer ' +
          'whose capabilities list it; refused when none does.',
      ),
    }),
  ])
  .meta({ id: 'RunTarget' });

export type RunTarget = z.infer<typeof RunTargetSchema>;

/** `POST /v1/runs` body. Unknown fields are rejected. */
export const CreateRunRequestSchema = z
  .strictObject({
    agent_id: AgentIdSchema,
    input: RunInputSchema,
    metadata: MetadataSchema.optional(),
    target: RunTargetSchema.optional().describe(
      'Forward the run to a federation peer (HLD §7.3); absent, it runs on this node. A forwarded run is kept ' +
        'here too: its `federation` names the peer and the run there, and its events are replicated into it.',
    ),
  })
  .meta({ id: 'CreateRunRequest' });

export type CreateRunRequest = z.infer<typeof CreateRunRequestSchema>;

export const RunErrorSchema = z
  .strictObject({ code: z.string(), message: z.string() })
  .meta({ id: 'RunError' });

export type RunError = z.infer<typeof RunErrorSchema>;

export const RunUsageSchema = z
  .strictObject({
    prompt_tokens: z.number().int().nonnegative(),
    completion_tokens: z.number().int().nonnegative(),
    cost_usd: z.number().nonnegative(),
  })
  .meta({ id: 'RunUsage' });

export type RunUsage = z.infer<typeof RunUsageSchema>;

/** Why a run waits to start or to go on (HLD §10.2). */
export const RunStatusReasonSchema = z.enum(['waiting_for_run_slot', 'waiting_for_node_capacity']);
export type RunStatusReason = z.infer<typeof RunStatusReasonSchema>;

/** Where a forwarded run runs (HLD §7.3, §7.4). */
export const RunFederationSchema = z
  .strictObject({
    origin_node_id: NodeIdSchema.describe('The node the run was created on (this one).'),
    node_id: NodeIdSchema.describe('The peer the run was forwarded to, which runs it.'),
    remote_run_id: RunIdSchema.nullable().describe('The run on the peer; null until the peer took it.'),
    remote_events_url: z
      .string()
      .nullable()
      .describe(
        'The run’s events on the peer, without the short-lived token the peer gave; this run’s own events serve ' +
          'them here, replicated.',
      ),
    replicated_sequence: z
      .number()
      .int()
      .nonnegative()
      .describe('Every event of the run on the peer up to this sequence is held here.'),
    remote_cancel: z
      .enum(['acknowledged', 'failed'])
      .optional()
      .describe(
        'Only in the answer of a cancel: `acknowledged` when the peer canceled its run (or it had ended there), ' +
          '`failed` when the peer could not be reached or refused. The run is canceled here either way; cancel ' +
          'again to send it to the peer again.',
      ),
  })
  .meta({ id: 'RunFederation' });

export type RunFederation = z.infer<typeof RunFederationSchema>;

/** A run as the API returns it. */
export const RunSchema = z
  .strictObject({
    object: z.literal('run'),
    run_id: RunIdSchema,
    agent_id: AgentIdSchema,
    agent_version: z
      .number()
      .int()
      .min(1)
      .describe('The agent version the run runs; later versions do not change it.'),
    mode: z
      .enum(['standard', 'long'])
      .describe(
        '`standard`: steps pass through the step queue; `long`: a Step Functions execution drives them.',
      ),
    status: RunStatusSchema,
    input: RunInputSchema,
    output: z.strictObject({ message: AssistantMessageSchema }).nullable(),
    error: RunErrorSchema.nullable(),
    steps_completed: z.number().int().nonnegative(),
    last_sequence: z.number().int().nonnegative(),
    usage: RunUsageSchema,
    metadata: MetadataSchema,
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
    started_at: z.iso.datetime().nullable(),
    ended_at: z.iso.datetime().nullable(),
    status_reason: RunStatusReasonSchema.nullable().describe(
      'Why the run waits to start (or to go on): `waiting_for_run_slot` while its tenant runs as many runs as ' +
        'it may, `waiting_for_node_capacity` while the node does; null otherwise.',
    ),
    events_url: z
      .string()
      .describe(
        'The run’s events. In the answers of POST /v1/runs and GET /v1/runs/{run_id}, an absolute URL with a ' +
          '`stream_token` query parameter: a short-lived token that reads only this run’s events, for a ' +
          'browser’s EventSource; elsewhere the path. Read the run again for a fresh one.',
      ),
    federation: RunFederationSchema.optional().describe(
      'Present on a run forwarded to a peer: where it runs. Its events come from the peer (`node_id`).',
    ),
  })
  .meta({ id: 'Run' });

export type Run = z.infer<typeof RunSchema>;

export { ChatMessageSchema };

/** Query of `GET /v1/runs/{run_id}/events`. */
export const EventQuerySchema = z.strictObject({
  after: z.coerce
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe('Return events with a sequence greater than this (default 0: from the start).'),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .optional()
    .describe('Largest page for the JSON form (default 100); ignored when streaming.'),
  stream_token: z
    .string()
    .optional()
    .describe(
      'The token of the run’s `events_url`, used in place of the Authorization header (which wins when both come).',
    ),
});

/** `Idempotency-Key` header values. */
export const IdempotencyKeySchema = z
  .string()
  .regex(/^[\x21-\x7e]{1,255}$/, 'must be 1-255 printable ASCII characters');

/** `limit` of a list: 1-100, 20 when absent. */
export const ListLimitSchema = z.coerce
  .number()
  .int()
  .min(1)
  .max(100)
  .optional()
  .describe('Largest page (1-100, default 20).');

/** `cursor` of a list: opaque, from the previous page's `next_cursor`. */
export const ListCursorSchema = z
  .string()
  .min(1)
  .max(512)
  .optional()
  .describe('Where to continue: the `next_cursor` of the previous page (opaque; a malformed one is a 400).');

/** Query of `GET /v1/runs`. */
export const RunListQuerySchema = z.strictObject({
  status: RunStatusSchema.optional().describe('Only runs in this status.'),
  limit: ListLimitSchema,
  cursor: ListCursorSchema,
});

/** A page of runs, newest first. */
export const RunPageSchema = z
  .strictObject({
    object: z.literal('list'),
    data: z.array(RunSchema),
    next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page.'),
  })
  .meta({ id: 'RunPage' });
