import { describe, expect, it } from 'vitest';
import { InMemoryPeerTokenReplay } from '../../functions/orchestrator/adapters/in-memory/in-memory-peer-token-replay.ts';
import { peerTokenReplayPortConformance } from '../conformance/peer-token-replay-port.case.ts';

peerTokenReplayPortConformance('in memory', async (clock) => new InMemoryPeerTokenReplay({ now: clock.now }));

describe('InMemoryPeerTokenReplay', () => {
  it('returns false, failing closed, once it holds as many live ids as it may', async () => {
    const replay = new InMemoryPeerTokenReplay({ maxEntries: 2 });
    const later = new Date(Date.now() + 60_000);
    expect(await replay.claim('p', 'a', later)).toBe(true);
    expect(await replay.claim('p', 'b', later)).toBe(true);
    expect(await replay.claim('p', 'c', later)).toBe(false);
  });
});
