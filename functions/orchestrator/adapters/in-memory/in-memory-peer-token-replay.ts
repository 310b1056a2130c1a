import type { PeerTokenReplayPort } from '../../ports/peer-token-replay-port.ts';

/**
 * The replay guard in process memory: tests and the fast unit tier. Expired ids are dropped as
 * claims arrive; at `maxEntries` live ids a new claim is refused rather than the memory growing,
 * which fails closed (the token is refused) instead of forgetting an id still live.
 */
export class InMemoryPeerTokenReplay implements PeerTokenReplayPort {
  readonly #claimed = new Map<string, number>();
  readonly #now: () => Date;
  readonly #maxEntries: number;

  constructor(options: { now?: () => Date; maxEntries?: number } = {}) {
    this.#now = options.now ?? (() => new Date());
    this.#maxEntries = options.maxEntries ?? 100_000;
  }

  async claim(peerId: string, tokenId: string, expiresAt: Date): Promise<boolean> {
    const now = this.#now().getTime();
    for (const [key, until] of this.#claimed) if (until < now) this.#claimed.delete(key);
    const key = JSON.stringify([peerId, tokenId]);
    if (this.#claimed.has(key) || this.#claimed.size >= this.#maxEntries) return false;
    this.#claimed.set(key, expiresAt.getTime());
    return true;
  }
}
