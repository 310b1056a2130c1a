/**
 * Decides which trigger of an alarm sends the e-mail (HLD §9.3): repeated triggers of one alarm
 * inside its window send one. The decision is one conditional write, so several evaluators (Lambda
 * instances, a restarted local node) agree on it without a lock.
 */
export type AlertDedupPort = {
  /**
   * Claims `key` for `windowMs` from `nowMs`: a claim token when nobody holds an unexpired claim on
   * it (the caller sends), `undefined` when a claim made inside the window holds it (the caller stays
   * quiet). The token is random, so two claims made in the same millisecond are still told apart.
   */
  claim(key: string, nowMs: number, windowMs: number): Promise<string | undefined>;
  /**
   * Gives back the claim `token` names, when the e-mail it stood for could not be sent, so the next
   * trigger tries again. A claim made since by someone else (another token) is left alone.
   */
  release(key: string, token: string): Promise<void>;
};

/** A fresh claim token: random, so no two claimants share one. */
export function newClaimToken(): string {
  return crypto.randomUUID();
}

/** Keys the store may hold at most, by default, in the in-memory adapter. */
const defaultMaxKeys = 1_000;

/** {@link AlertDedupPort} in one process's memory (tests, a single local evaluator); bounded in keys. */
export class InMemoryAlertDedup implements AlertDedupPort {
  readonly #claims = new Map<string, { token: string; until: number }>();
  readonly #maxKeys: number;

  constructor(options: { maxKeys?: number } = {}) {
    this.#maxKeys = options.maxKeys ?? defaultMaxKeys;
  }

  claim(key: string, nowMs: number, windowMs: number): Promise<string | undefined> {
    const held = this.#claims.get(key);
    if (held !== undefined && held.until > nowMs) return Promise.resolve(undefined);
    this.#claims.delete(key);
    if (this.#claims.size >= this.#maxKeys) {
      for (const [stored, claim] of this.#claims) if (claim.until <= nowMs) this.#claims.delete(stored);
    }
    // Still full of live claims: the oldest makes room (a lost claim sends one e-mail too many).
    while (this.#claims.size >= this.#maxKeys) {
      const oldest = this.#claims.keys().next().value;
      if (oldest === undefined) break;
      this.#claims.delete(oldest);
    }
    const token = newClaimToken();
    this.#claims.set(key, { token, until: nowMs + windowMs });
    return Promise.resolve(token);
  }

  release(key: string, token: string): Promise<void> {
    if (this.#claims.get(key)?.token === token) this.#claims.delete(key);
    return Promise.resolve();
  }
}
