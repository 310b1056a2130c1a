import { describe, expect, it } from 'vitest';
import type { PeerTokenReplayPort } from '../../functions/orchestrator/ports/peer-token-replay-port.ts';

/** A clock the suite moves by hand. */
export type ReplayClock = { now: () => Date; advance(ms: number): void };

export function replayClock(): ReplayClock {
  let at = Date.now();
  return { now: () => new Date(at), advance: (ms) => (at += ms) };
}

/** The behaviour every PeerTokenReplayPort adapter must have (HLD §7.1). */
export function peerTokenReplayPortConformance(
  name: string,
  factory: (clock: ReplayClock) => Promise<PeerTokenReplayPort>,
): void {
  describe(`PeerTokenReplayPort conformance: ${name}`, () => {
    const jti = () => crypto.randomUUID();

    it('returns true for a token id the first time and false when it comes again', async () => {
      const clock = replayClock();
      const replay = await factory(clock);
      const id = jti();
      const expires = new Date(clock.now().getTime() + 60_000);
      expect(await replay.claim('west-1', id, expires)).toBe(true);
      expect(await replay.claim('west-1', id, expires)).toBe(false);
    });

    it('returns true for the same token id from another peer', async () => {
      const clock = replayClock();
      const replay = await factory(clock);
      const id = jti();
      const expires = new Date(clock.now().getTime() + 60_000);
      expect(await replay.claim('west-1', id, expires)).toBe(true);
      expect(await replay.claim('west-2', id, expires)).toBe(true);
    });

    it('returns true for exactly one of concurrent claims of a token id', async () => {
      const clock = replayClock();
      const replay = await factory(clock);
      const id = jti();
      const expires = new Date(clock.now().getTime() + 60_000);
      const outcomes = await Promise.all([1, 2, 3, 4, 5].map(() => replay.claim('west-1', id, expires)));
      expect(outcomes.filter(Boolean)).toHaveLength(1);
    });

    it('returns true again once the token the id belonged to has expired', async () => {
      const clock = replayClock();
      const replay = await factory(clock);
      const id = jti();
      expect(await replay.claim('west-1', id, new Date(clock.now().getTime() + 5_000))).toBe(true);
      clock.advance(10_000);
      expect(await replay.claim('west-1', id, new Date(clock.now().getTime() + 5_000))).toBe(true);
    });
  });
}
