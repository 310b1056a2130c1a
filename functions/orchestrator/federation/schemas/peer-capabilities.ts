import { z } from 'zod';
import { FederationProtocolVersionSchema, NodeIdSchema } from './peer-identity.ts';

/**
 * `GET /v1/peer/capabilities` (HLD §7.2): what a peer supports, shaped like an A2A agent card (name,
 * description, version, interfaces, capabilities, skills) plus what forwarding needs: limits, model
 * tiers and backends, protocol versions and required fields. Fields may be added; peers ignore what
 * they do not know.
 */

const identifier = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/);

export const PeerInterfaceSchema = z
  .strictObject({
    url: z.url({ protocol: /^https?$/ }).describe('Base URL of the Federation API on this peer.'),
    protocol_binding: z.literal('HTTP+JSON'),
    protocol_version: FederationProtocolVersionSchema,
  })
  .meta({ id: 'PeerInterface' });

export const PeerFeaturesSchema = z
  .strictObject({
    run_forwarding: z.boolean().describe('Accepts POST /v1/federation/runs:forward.'),
    event_streaming: z.boolean().describe('Serves the events_url of forwarded runs as SSE.'),
    event_ingest: z.boolean().describe('Accepts POST /v1/federation/events:ingest.'),
    push_notifications: z.boolean(),
    state_transition_history: z.boolean().describe('Run events record every state transition.'),
  })
  .meta({ id: 'PeerFeatures' });

export const PeerSkillSchema = z
  .strictObject({
    id: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/)
      .describe('The agent_id a forwarded run names.'),
    name: z.string().min(1).max(128),
    description: z.string().max(2048),
    tags: z.array(z.string().max(64)).max(32),
    input_modes: z.array(z.string()).min(1).describe('Media types the agent accepts.'),
    output_modes: z.array(z.string()).min(1).describe('Media types the agent produces.'),
  })
  .meta({ id: 'PeerSkill' });

export const PeerLimitsSchema = z
  .strictObject({
    max_request_bytes: z.number().int().positive(),
    max_input_messages: z.number().int().positive(),
    max_concurrent_forwarded_runs: z.number().int().positive(),
    forwarded_runs_per_minute: z.number().int().positive(),
    max_ingest_batch: z.number().int().positive(),
    event_retention_days: z.number().int().positive(),
  })
  .meta({ id: 'PeerLimits' });

export const PeerModelsSchema = z
  .strictObject({
    tiers: z.array(
      z.strictObject({
        name: identifier.describe('Usable as model_ref tier:<name>.'),
        description: z.string().max(512).optional(),
      }),
    ),
    backends: z.array(
      z.strictObject({
        kind: identifier.describe('bedrock, openai (any OpenAI-compatible server) or local.'),
        streaming: z.boolean(),
        tools: z.boolean(),
      }),
    ),
  })
  .meta({ id: 'PeerModels' });

export const PeerCapabilitiesSchema = z
  .strictObject({
    object: z.literal('peer.capabilities'),
    node_id: NodeIdSchema,
    name: z.string().min(1).max(128),
    description: z.string().max(2048),
    version: z
      .string()
      .regex(/^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/)
      .describe('The AgentOS release of the peer.'),
    protocol_versions: z.array(FederationProtocolVersionSchema).min(1).describe('Supported, newest first.'),
    interfaces: z.array(PeerInterfaceSchema).min(1).describe('Ordered; the first is preferred.'),
    provider: z.strictObject({ organization: z.string().max(256), url: z.url().optional() }).optional(),
    features: PeerFeaturesSchema,
    default_input_modes: z.array(z.string()).min(1),
    default_output_modes: z.array(z.string()).min(1),
    skills: z.array(PeerSkillSchema),
    limits: PeerLimitsSchema,
    models: PeerModelsSchema,
    required_fields: z
      .strictObject({
        forward_run: z.array(z.string()),
        events_ingest: z.array(z.string()),
      })
      .describe('Request fields this peer requires beyond the protocol version’s own, by operation.'),
    security: z.strictObject({
      token_type: z.literal('bearer-jwt'),
      audience: z.string().describe('The aud a peer token must carry.'),
      issuers: z.array(z.url()).min(1).describe('Issuers this peer trusts for tenant and principal claims.'),
      mtls: z.enum(['required', 'recommended']),
    }),
  })
  .meta({ id: 'PeerCapabilities' });

export type PeerCapabilities = z.infer<typeof PeerCapabilitiesSchema>;
