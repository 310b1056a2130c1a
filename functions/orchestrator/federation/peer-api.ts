import { defineRoute } from '../../shared/http/route-spec.ts';
import { PeerCapabilitiesSchema } from './schemas/peer-capabilities.ts';
import { PeerInfoSchema } from './schemas/peer-info.ts';

/**
 * The discovery routes of the Federation API (HLD §7.1, §7.2), served by the Orchestrator and
 * declared once; the handlers are in peer-handlers.ts. Both are unauthenticated, like the JWKS: an
 * operator reads them before trusting a node as a peer, and a forwarding node reads them before it
 * forwards. Neither names a tenant or anything of one.
 */

const cacheControl = {
  name: 'Cache-Control',
  required: true,
  description: 'How long a peer may keep the answer (minutes, so a changed node is seen soon).',
};

export const getPeerInfo = defineRoute({
  operationId: 'getPeerInfo',
  method: 'GET',
  path: '/v1/peer/info',
  scope: null,
  tags: ['Peers'],
  summary: 'Who this node is and where to reach it',
  description:
    'Unauthenticated. The node id (the `aud` of peer tokens sent to it), its release, the federation protocol ' +
    'and API versions it speaks, its public endpoints and the JWKS URL that verifies the peer tokens it signs.',
  responses: {
    200: {
      description: 'The node’s identity.',
      headers: [cacheControl],
      content: { 'application/json': { schema: PeerInfoSchema } },
    },
  },
});

export const getPeerCapabilities = defineRoute({
  operationId: 'getPeerCapabilities',
  method: 'GET',
  path: '/v1/peer/capabilities',
  scope: null,
  tags: ['Peers'],
  summary: 'What this peer supports',
  description:
    'Unauthenticated. Features, limits, model tiers and backends, protocol versions and required fields, shaped ' +
    'like an A2A agent card. A forwarding node reads it first and forwards only what the peer says it accepts. ' +
    '`skills` is empty: agents belong to tenants, and an unauthenticated answer names none.',
  responses: {
    200: {
      description: 'The capabilities.',
      headers: [cacheControl],
      content: { 'application/json': { schema: PeerCapabilitiesSchema } },
    },
  },
});

/** The discovery routes, in document order. */
export const peerRoutes = [getPeerInfo, getPeerCapabilities] as const;
