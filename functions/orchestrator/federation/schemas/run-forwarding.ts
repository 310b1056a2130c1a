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
