import { z } from 'zod';
import { AssistantMessageSchema } from '../../shared/contracts/chat.ts';
import { PolicyOutcomeSchema, RouteSchema, UsageSchema } from '../../shared/contracts/model-invocation.ts';
import { RunErrorSchema, RunIdSchema, RunStatusSchema } from './run.ts';
import { ToolErrorSchema } from './tool.ts';
import { NodeIdSchema } from '../federation/schemas/peer-identity.ts';

/**
 * Run events. Every event has a per-run gapless `sequence` (its SSE `id:`) and an `event_id` that is
 * stable across redelivery, so consumers dedupe by `event_id` and order by `sequence` (HLD §4.4).
 */

const stepData = z.strictObject({ step: z.number().int().positive() });

export const eventDataSchemas = {
  'run.queued': z.strictObject({ agent_id: z.string(), status: RunStatusSchema }),
  'run.started': z.strictObject({ status: RunStatusSchema }),
  'step.started': stepData,
  'model.requested': stepData.extend({
    request_id: z.string(),
    model_ref: z.string(),
    message_count: z.number().int(),
  }),
  'model.fallback': stepData.extend({
    request_id: z.string(),
    provider: z.string(),
    model: z.string(),
    reason: z.string(),
    status: z.number().int().optional(),
  }),
  'model.completed': stepData.extend({
    request_id: z.string(),
    message: AssistantMessageSchema,
    finish_reason: z.string(),
    usage: UsageSchema,
    route: RouteSchema,
    policy: PolicyOutcomeSchema,
  }),
  'tool.requested': stepData.extend({
    tool_call_id: z.string(),
    name: z.string(),
    arguments: z.string(),
    /** 1 for the first attempt; a retried call has a pair of events per attempt. */
    attempt: z.number().int().positive().optional(),
  }),
  'tool.completed': stepData.extend({
    tool_call_id: z.string(),
    name: z.string(),
    attempt: z.number().int().positive().optional(),
    output: z.string(),
    is_error: z.boolean(),
    error: ToolErrorSchema.optional(),
    duration_ms: z.number().int().nonnegative().optional(),
    /** The run pauses this long before its next step (the `wait` built-in of a `long` run). */
    suspend_seconds: z.number().int().positive().optional(),
  }),
  'step.completed': stepData.extend({ finish_reason: z.string() }),
  'run.completed': z.strictObject({
    status: RunStatusSchema,
    output: z.strictObject({ message: AssistantMessageSchema }),
  }),
  'run.failed': z.strictObject({ status: RunStatusSchema, error: RunErrorSchema }),
  'run.canceled': z.strictObject({ status: RunStatusSchema, reason: z.string().optional() }),
} as const;

export type EventType = keyof typeof eventDataSchemas;
export const eventTypes = Object.keys(eventDataSchemas) as EventType[];
export const terminalEventTypes: ReadonlySet<string> = new Set([
  'run.completed',
  'run.failed',
  'run.canceled',
]);

export type EventData<T extends EventType> = z.infer<(typeof eventDataSchemas)[T]>;

const envelope = {
  object: z.literal('event'),
  event_id: z.string(),
  run_id: RunIdSchema,
  sequence: z.number().int().positive(),
  time: z.iso.datetime(),
  node_id: NodeIdSchema.optional().describe(
    'The node that produced the event: this node, or the peer a forwarded run runs on (HLD §7.4).',
  ),
};

const eventVariants = eventTypes.map((type) =>
  z.strictObject({ ...envelope, type: z.literal(type), data: eventDataSchemas[type] }),
) as z.ZodObject[];

export const RunEventSchema = z
  .discriminatedUnion('type', eventVariants as [z.ZodObject, ...z.ZodObject[]])
  .meta({ id: 'RunEvent' });

/** A stored, sequenced event. */
export type RunEvent = {
  object: 'event';
  event_id: string;
  run_id: string;
  sequence: number;
  type: EventType;
  time: string;
  data: Record<string, unknown>;
  /** The node that produced it, when another node did (a forwarded run's replicated events). */
  node_id?: string;
};

/**
 * An event the runtime wants appended; the store assigns `sequence`, and `time` unless given (a
 * replicated event keeps the time and node of the peer that produced it, HLD §7.4).
 */
export type NewEvent = {
  event_id: string;
  type: EventType;
  data: Record<string, unknown>;
  time?: string;
  node_id?: string;
};

/** Builds a typed new event. */
export function newEvent<T extends EventType>(eventId: string, type: T, data: EventData<T>): NewEvent {
  return { event_id: eventId, type, data: data as Record<string, unknown> };
}

export const EventPageSchema = z
  .strictObject({
    object: z.literal('list'),
    data: z.array(RunEventSchema),
    has_more: z.boolean(),
    next_after: z.number().int().nonnegative(),
  })
  .meta({ id: 'RunEventPage' });
