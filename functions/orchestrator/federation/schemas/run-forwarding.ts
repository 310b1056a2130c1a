import { z } from 'zod';
import {
  AgentIdSchema,
  MetadataSchema,
  RunIdSchema,
  RunInputSchema,
  RunStatusSchema,
} from '../../schemas/run.ts';
import { FederationProtocolVersionSchema, NodeIdSchema } from './peer-identity.ts';

/**
 * `POST /v1/federation/runs:forward` (HLD §7.3): a node asks a peer to run an agent for one of its
 * tenants. Tenant and principal travel in the peer's verified JWT, never in the body; the trace
 * continues through the `traceparent` header.
 */
export const ForwardRunRequestSchema = z
  .strictObject({
    protocol_version: FederationProtocolVersionSchema,
    agent_id: AgentIdSchema,
    input: RunInputSchema,
    metadata: MetadataSchema.optional(),
    origin: z
      .strictObject({
        node_id: NodeIdSchema,
        run_id: RunIdSchema.optional().describe('The run on the origin node this forward serves, if any.'),
      })
      .describe('Who forwarded the run, for audit and for events:ingest back to the origin.'),
  })
  .meta({ id: 'ForwardRunRequest' });

export type ForwardRunRequest = z.infer<typeof ForwardRunRequestSchema>;

export const ForwardedRunSchema = z
  .strictObject({
    object: z.literal('federation.forwarded_run'),
    node_id: NodeIdSchema.describe('The peer that runs it.'),
    run_id: RunIdSchema.describe('The run id on the peer.'),
    status: RunStatusSchema,
    events_url: z.url().describe('Absolute URL of the run’s events on the peer (SSE or JSON page).'),
    created_at: z.iso.datetime(),
  })
  .meta({ id: 'ForwardedRun' });

export type ForwardedRun = z.infer<typeof ForwardedRunSchema>;

/**
 * `POST /v1/federation/runs:cancel` (HLD §7.3): the origin cancels a run it forwarded here, so the
 * run stops spending this node's budget once its client no longer wants it.
 */
export const CancelForwardedRunRequestSchema = z
  .strictObject({
    run_id: RunIdSchema.describe('The run on this peer, as the forward answered it (`run_id`).'),
  })
  .meta({ id: 'CancelForwardedRunRequest' });

export type CancelForwardedRunRequest = z.infer<typeof CancelForwardedRunRequestSchema>;

/** The forwarded run as a cancel left it: `canceled`, or the final state it had reached before. */
export const CanceledForwardedRunSchema = z
  .strictObject({
    object: z.literal('federation.canceled_run'),
    node_id: NodeIdSchema.describe('The peer that ran it (this node).'),
    run_id: RunIdSchema.describe('The run id on the peer.'),
    status: RunStatusSchema.describe(
      '`canceled`, or `completed` / `failed` when the run had ended before the cancel arrived.',
    ),
  })
  .meta({ id: 'CanceledForwardedRun' });

export type CanceledForwardedRun = z.infer<typeof CanceledForwardedRunSchema>;
