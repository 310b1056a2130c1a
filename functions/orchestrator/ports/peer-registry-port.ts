import type { Cursor } from '../../shared/tenancy/tenant-paging.ts';
import type { Peer, PeerSpec } from '../federation/schemas/peer.ts';

/** Thrown when a peer is added under an id the node already trusts. */
export class PeerExistsError extends Error {
  readonly peerId: string;
  constructor(peerId: string) {
    super(`Peer ${peerId} is already trusted; remove it first to change it`);
    this.peerId = peerId;
    this.name = 'PeerExistsError';
  }
}

/**
 * The node's trusted peers (HLD §7.1): each with its base URL, JWKS URL and the tenants it may act
 * for. Node-level records: they belong to no tenant. It knows records, not rules: who may change
 * them is the caller's business.
 */
export interface PeerRegistryPort {
  /**
   * Trusts a peer. Of concurrent adds of one id, exactly one wins.
   * @throws PeerExistsError when the id is trusted already
   * @throws DependencyUnavailableError when the store cannot be reached; retry
   */
  add(spec: PeerSpec, stamp: { by: string; at: Date }): Promise<Peer>;
  get(peerId: string): Promise<Peer | undefined>;
  /** A page of the peers in a stable order (not alphabetical), `limit` at most, after `cursor`. */
  list(page: { limit: number; cursor?: Cursor }): Promise<{ peers: Peer[]; next: Cursor | null }>;
  /** Stops trusting a peer; false when it was not trusted. */
  remove(peerId: string): Promise<boolean>;
}
