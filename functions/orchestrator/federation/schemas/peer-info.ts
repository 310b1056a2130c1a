import { z } from 'zod';
import { FederationProtocolVersionSchema, NodeIdSchema } from './peer-identity.ts';

/**
 * `GET /v1/peer/info` (HLD §7.1, §7.2): who a node is and where to reach it, read by an operator
 * before trusting it as a peer and by a forwarding node before anything else. It names only the
 * node, never a tenant.
 */
export const PeerInfoSchema = z
  .strictObject({
    object: z.literal('peer.info'),
    node_id: NodeIdSchema.describe(
      'The node’s id: the `aud` of peer tokens sent to it and the `iss` of its own.',
    ),
    version: z
      .string()
      .regex(/^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/)
      .describe('The AgentOS release the node runs.'),
    protocol_versions: z
      .array(FederationProtocolVersionSchema)
      .min(1)
      .describe('Federation protocol versions the node speaks, newest first.'),
    api_versions: z
      .array(z.string().regex(/^v\d+$/))
      .min(1)
      .describe('Public API versions served (`v1`).'),
    endpoints: z
      .strictObject({
        orchestrator: z.url().describe('Base URL of the node’s Orchestrator API (runs, events).'),
        federation: z.url().describe('Base URL of the node’s Federation API.'),
        capabilities: z.url().describe('Absolute URL of `GET /v1/peer/capabilities`.'),
      })
      .describe('Absolute public URLs of the node.'),
    jwks_url: z.url().describe('The node’s public signing keys: they verify the peer tokens it signs.'),
  })
  .meta({ id: 'PeerInfo' });

export type PeerInfo = z.infer<typeof PeerInfoSchema>;
