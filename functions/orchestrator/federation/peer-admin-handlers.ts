import type { AuthContext } from '../../shared/auth/auth-context.ts';
import { ConflictError, ForbiddenError, NotFoundError } from '../../shared/errors/agentos-error.ts';
import type { RouteHandlers } from '../../shared/http/bound-route.ts';
import { PeerExistsError } from '../ports/peer-registry-port.ts';
import type { PeerRegistryPort } from '../ports/peer-registry-port.ts';
import type { peerAdminRoutes } from './peer-admin-api.ts';

/** What the peer administration is built on. */
export type PeerAdminDeps = {
  peers: PeerRegistryPort;
  now: () => Date;
  /** The platform tenant whose operators administer the node (`AGENTOS_OPERATOR_TENANT`). */
  operatorTenantId: string;
};

const defaultListLimit = 20;

/** Refuses anyone but an operator of the platform's own tenant: the scope alone is not enough. */
function requirePlatformOperator(auth: AuthContext, operatorTenantId: string): void {
  if (auth.tenant_id !== operatorTenantId)
    throw new ForbiddenError('Only operators of the platform tenant may administer peers');
}

/** The handlers of the peer administration routes (peer-admin-api.ts, HLD §7.1). */
export function peerAdminHandlers(deps: PeerAdminDeps): RouteHandlers<typeof peerAdminRoutes> {
  const { peers, operatorTenantId } = deps;
  return {
    async createPeer({ auth, body }) {
      requirePlatformOperator(auth, operatorTenantId);
      try {
        const peer = await peers.add(body, { by: auth.principal.id, at: deps.now() });
        return { status: 201, headers: { location: `/v1/admin/peers/${peer.peer_id}` }, json: peer };
      } catch (error) {
        if (error instanceof PeerExistsError) throw new ConflictError(error.message, { cause: error });
        throw error;
      }
    },

    async listPeers({ auth, query }) {
      requirePlatformOperator(auth, operatorTenantId);
      const page = await peers.list({
        limit: query.limit ?? defaultListLimit,
        ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
      });
      return { status: 200, json: { object: 'list', data: page.peers, next_cursor: page.next } };
    },

    async getPeer({ auth, params }) {
      requirePlatformOperator(auth, operatorTenantId);
      const peer = await peers.get(params.peer_id);
      if (peer === undefined) throw new NotFoundError(`Peer ${params.peer_id} not found`);
      return { status: 200, json: peer };
    },

    async deletePeer({ auth, params }) {
      requirePlatformOperator(auth, operatorTenantId);
      if (!(await peers.remove(params.peer_id))) throw new NotFoundError(`Peer ${params.peer_id} not found`);
      return { status: 204, empty: true };
    },
  };
}
