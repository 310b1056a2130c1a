import { z } from 'zod';
import { scopes } from '../../shared/auth/auth-context.ts';
import { defineRoute } from '../../shared/http/route-spec.ts';
import { ListQuerySchema } from '../api/agent-api.ts';
import { PeerSchema, PeerSpecSchema } from './schemas/peer.ts';
import { NodeIdSchema } from './schemas/peer-identity.ts';

/**
 * The operator's administration of the node's federation peers (HLD §7.1): trust a peer (its id,
 * base URL, JWKS URL and the tenants it may act for), list, read and stop trusting one. Every route
 * needs the `operator` scope on a token of the operator tenant. Declared once; handlers in
 * peer-admin-handlers.ts. `agentos peers add|list|remove` calls them.
 */

const PeerPathSchema = z.strictObject({
  peer_id: NodeIdSchema.describe(
    'The peer’s node id; a malformed id is answered like an unknown peer (404).',
  ),
});

export const PeerListSchema = z
  .strictObject({
    object: z.literal('list'),
    data: z.array(PeerSchema).describe('The trusted peers, in a stable order that is not alphabetical.'),
    next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last one.'),
  })
  .meta({ id: 'PeerList' });

const peerContent = { 'application/json': { schema: PeerSchema } };

const operatorErrors = {
  403: {
    description:
      'forbidden: the token lacks the `operator` scope or is not a token of the operator tenant (the scope alone is not enough).',
  },
  503: { description: 'dependency_unavailable: the peer registry could not be reached; retry.' },
};

const unknownPeer = { description: 'not_found: this node trusts no such peer.' };

export const createPeer = defineRoute({
  operationId: 'createPeer',
  method: 'POST',
  path: '/v1/admin/peers',
  scope: scopes.operator,
  tags: ['Peers'],
  summary: 'Trust a federation peer',
  description:
    'Trusts the peer for the tenants listed: tokens it signs (verified with the keys at `jwks_url`) may act for ' +
    'those tenants only, each named by its id on the peer. To change a peer, remove it and add it again.',
  request: { body: PeerSpecSchema },
  responses: {
    201: {
      description: 'The peer is trusted.',
      headers: [{ name: 'Location', required: true, description: 'The peer: /v1/admin/peers/{peer_id}.' }],
      content: peerContent,
    },
    400: { description: 'invalid_request: malformed JSON or an unknown or invalid field.' },
    409: { description: 'conflict: a peer with this id is trusted already (remove it first to change it).' },
    ...operatorErrors,
  },
});

export const listPeers = defineRoute({
  operationId: 'listPeers',
  method: 'GET',
  path: '/v1/admin/peers',
  scope: scopes.operator,
  tags: ['Peers'],
  summary: 'List the node’s trusted peers',
  request: { query: ListQuerySchema },
  responses: {
    200: { description: 'A page of peers.', content: { 'application/json': { schema: PeerListSchema } } },
    400: { description: 'invalid_request: an invalid `limit` or `cursor`.' },
    ...operatorErrors,
  },
});

export const getPeer = defineRoute({
  operationId: 'getPeer',
  method: 'GET',
  path: '/v1/admin/peers/{peer_id}',
  scope: scopes.operator,
  tags: ['Peers'],
  summary: 'Read a trusted peer',
  request: { params: PeerPathSchema, invalidParams: 'not_found' },
  responses: {
    200: { description: 'The peer.', content: peerContent },
    404: unknownPeer,
    ...operatorErrors,
  },
});

export const deletePeer = defineRoute({
  operationId: 'deletePeer',
  method: 'DELETE',
  path: '/v1/admin/peers/{peer_id}',
  scope: scopes.operator,
  tags: ['Peers'],
  summary: 'Stop trusting a peer',
  description: 'Its tokens are refused from then on (a function instance may take a few seconds to notice).',
  request: { params: PeerPathSchema, invalidParams: 'not_found' },
  responses: {
    204: { description: 'The peer is no longer trusted.' },
    404: unknownPeer,
    ...operatorErrors,
  },
});

/** The peer administration routes, in document order. */
export const peerAdminRoutes = [createPeer, listPeers, getPeer, deletePeer] as const;
