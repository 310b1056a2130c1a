import { describe, expect, it } from 'vitest';
import type { PeerSpec } from '../../functions/orchestrator/federation/schemas/peer.ts';
import { PeerExistsError } from '../../functions/orchestrator/ports/peer-registry-port.ts';
import type { PeerRegistryPort } from '../../functions/orchestrator/ports/peer-registry-port.ts';

const stamp = { by: 'operator-admin', at: new Date('2026-12-04T10:00:00.000Z') };

function spec(peerId = `p${crypto.randomUUID().slice(0, 8)}`): PeerSpec {
  return {
    peer_id: peerId,
    base_url: `https://${peerId}.example.com/prod`,
    jwks_url: `https://${peerId}.example.com/prod/.well-known/jwks.json`,
    tenants: [
      { tenant_id: 'acme', peer_tenant_id: 'acme-eu' },
      { tenant_id: 'globex', peer_tenant_id: 'globex' },
    ],
  };
}

/** The behaviour every PeerRegistryPort adapter must have (HLD §7.1). */
export function peerRegistryPortConformance(name: string, factory: () => Promise<PeerRegistryPort>): void {
  describe(`PeerRegistryPort conformance: ${name}`, () => {
    it('returns an added peer with who added it and when, and finds it by id', async () => {
      const registry = await factory();
      const given = spec();
      const added = await registry.add(given, stamp);
      expect(added).toEqual({
        object: 'peer',
        ...given,
        created_at: '2026-12-04T10:00:00.000Z',
        created_by: 'operator-admin',
      });
      expect(await registry.get(given.peer_id)).toEqual(added);
    });

    it('returns undefined for a peer it does not trust', async () => {
      const registry = await factory();
      expect(await registry.get(`p${crypto.randomUUID().slice(0, 8)}`)).toBeUndefined();
    });

    it('throws PeerExistsError when the id is trusted already, keeping the first', async () => {
      const registry = await factory();
      const first = spec();
      await registry.add(first, stamp);
      const error = await registry
        .add({ ...first, base_url: 'https://elsewhere.example.com' }, stamp)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PeerExistsError);
      expect((await registry.get(first.peer_id))?.base_url).toBe(first.base_url);
    });

    it('adds a peer once when adds of its id race, and tells every other one it exists', async () => {
      const registry = await factory();
      const peerId = `p${crypto.randomUUID().slice(0, 8)}`;
      const outcomes = await Promise.allSettled(
        [1, 2, 3, 4].map((n) =>
          registry.add({ ...spec(peerId), base_url: `https://n${n}.example.com` }, stamp),
        ),
      );
      const added = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
      expect(added).toHaveLength(1);
      const refusals = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
      expect(refusals.every((e) => e instanceof PeerExistsError)).toBe(true);
      expect(refusals).toHaveLength(3);
      expect(await registry.get(peerId)).toEqual(added[0]);
    });

    it('returns every peer once across pages', async () => {
      const registry = await factory();
      const ids = Array.from({ length: 7 }, () => `p${crypto.randomUUID().slice(0, 8)}`);
      for (const id of ids) await registry.add(spec(id), stamp);
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages < 100; pages++) {
        const page = await registry.list({ limit: 3, ...(cursor === undefined ? {} : { cursor }) });
        expect(page.peers.length).toBeLessThanOrEqual(3);
        seen.push(...page.peers.map((peer) => peer.peer_id));
        if (page.next === null) break;
        cursor = page.next;
      }
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.filter((id) => ids.includes(id)).sort()).toEqual([...ids].sort());
    });

    it('removes a peer once: true, then false, and the id may be trusted again', async () => {
      const registry = await factory();
      const given = spec();
      await registry.add(given, stamp);
      expect(await registry.remove(given.peer_id)).toBe(true);
      expect(await registry.get(given.peer_id)).toBeUndefined();
      expect(await registry.remove(given.peer_id)).toBe(false);
      await expect(registry.add({ ...given, tenants: [] }, stamp)).resolves.toMatchObject({ tenants: [] });
    });

    it('returns records a caller cannot change in the registry by changing them', async () => {
      const registry = await factory();
      const given = spec();
      const added = await registry.add(given, stamp);
      added.tenants.push({ tenant_id: 'initech', peer_tenant_id: 'initech' });
      const read = await registry.get(given.peer_id);
      read?.tenants.splice(0);
      expect((await registry.get(given.peer_id))?.tenants).toEqual(given.tenants);
    });
  });
}
