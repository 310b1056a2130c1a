/** Limits of a {@link BoundedCache}; every in-process cache has all three. */
export type BoundedCacheOptions<V> = {
  /** The most entries kept; the least recently used go first. */
  maxEntries: number;
  /** How long an entry may be served after it was stored. */
  maxAgeMs: number;
  /** The most total weight kept (e.g. bytes), with {@link weigh}; unbounded by weight when absent. */
  maxWeight?: number;
  /** An entry's weight; 1 when absent. An entry heavier than `maxWeight` is not kept. */
  weigh?: (value: V) => number;
  /** The clock, in milliseconds; `Date.now` when absent. */
  now?: () => number;
};

type Entry<V> = { value: V; storedAt: number; weight: number };

/**
 * A least-recently-used map bounded by entry count, age and (optionally) total weight, so a
 * long-lived Lambda or local node process cannot grow without limit however many keys it sees.
 */
export class BoundedCache<K, V> {
  readonly #entries = new Map<K, Entry<V>>();
  readonly #options: BoundedCacheOptions<V>;
  readonly #now: () => number;
  #weight = 0;

  constructor(options: BoundedCacheOptions<V>) {
    if (!(options.maxEntries > 0) || !(options.maxAgeMs >= 0)) {
      throw new RangeError('A bounded cache needs maxEntries > 0 and maxAgeMs >= 0');
    }
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The value stored under `key`, unless it is missing or older than `maxAgeMs`. */
  get(key: K): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (this.#now() - entry.storedAt > this.#options.maxAgeMs) {
      this.delete(key);
      return undefined;
    }
    // Re-inserting moves the key to the most recently used end of the map's order.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  /** Stores `value`, evicting the least recently used entries beyond the limits. */
  set(key: K, value: V): void {
    this.delete(key);
    const weight = this.#options.weigh?.(value) ?? 1;
    if (this.#options.maxWeight !== undefined && weight > this.#options.maxWeight) return;
    this.#entries.set(key, { value, storedAt: this.#now(), weight });
    this.#weight += weight;
    for (const [oldest] of this.#entries) {
      const overWeight = this.#options.maxWeight !== undefined && this.#weight > this.#options.maxWeight;
      if (this.#entries.size <= this.#options.maxEntries && !overWeight) break;
      this.delete(oldest);
    }
  }

  delete(key: K): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#weight -= entry.weight;
  }

  clear(): void {
    this.#entries.clear();
    this.#weight = 0;
  }

  /** Entries held (expired ones included until they are next read or evicted). */
  get size(): number {
    return this.#entries.size;
  }

  /** Total weight held. */
  get weight(): number {
    return this.#weight;
  }
}
