import { UnauthorizedError } from '../../shared/errors/agentos-error.ts';
import type { RouteHandlers } from '../../shared/http/bound-route.ts';
import type { EventIngest } from './event-ingest.ts';
import type { ingestRoutes } from './ingest-api.ts';

/**
 * The handler of `POST /v1/federation/events:ingest` (ingest-api.ts, HLD §7.4). The caller is a
 * verified peer acting for a tenant of this node; the ingest checks each run was forwarded to it.
 */
export function ingestHandlers(deps: { ingest: EventIngest }): RouteHandlers<typeof ingestRoutes> {
  return {
    async ingestEvents({ auth, body }) {
      const peerId = auth.policy_context['peer_id'];
      // Only a peer token admits this route; its verification names the peer.
      if (typeof peerId !== 'string') throw new UnauthorizedError('Only a peer may replicate events');
      return { status: 200, json: await deps.ingest.ingest(auth, peerId, body) };
    },
  };
}
