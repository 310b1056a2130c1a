import { pageBy } from '../../../shared/tenancy/tenant-paging.ts';
import type { Cursor } from '../../../shared/tenancy/tenant-paging.ts';
import type { Peer, PeerSpec } from '../../federation/schemas/peer.ts';
import { PeerExistsError } from '../../ports/peer-registry-port.ts';
import type { PeerRegistryPort } from '../../ports/peer-registry-port.ts';

/** The peer registry in process memory: tests and the fast unit tier. */
export class InMemoryPeerRegistry implements PeerRegistryPort {
  private readonly peers = new Map<string, Peer>();

  async add(spec: PeerSpec, stamp: { by: string; at: Date }): Promise<Peer> {
    if (this.peers.has(spec.peer_id)) throw new PeerExistsError(spec.peer_id);
    const peer: Peer = {
      object: 'peer',
      ...structuredClone(spec),
      created_at: stamp.at.toISOString(),
      created_by: stamp.by,
    };
    this.peers.set(spec.peer_id, peer);
    return structuredClone(peer);
  }

  async get(peerId: string): Promise<Peer | undefined> {
    const peer = this.peers.get(peerId);
    return peer === undefined ? undefined : structuredClone(peer);
  }

  async list(page: { limit: number; cursor?: Cursor }): Promise<{ peers: Peer[]; next: Cursor | null }> {
    const { items, next } = pageBy(this.peers.values(), (peer) => peer.peer_id, page);
    return { peers: items.map((peer) => structuredClone(peer)), next };
  }

  async remove(peerId: string): Promise<boolean> {
    return this.peers.delete(peerId);
  }
}
