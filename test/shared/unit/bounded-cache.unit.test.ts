import { describe, expect, it } from 'vitest';
import { BoundedCache } from '../../../functions/shared/cache/bounded-cache.ts';

function clock() {
  let now = 1_000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('BoundedCache', () => {
  it('returns what was stored until it is older than maxAgeMs', () => {
    const time = clock();
    const cache = new BoundedCache<string, number>({ maxEntries: 10, maxAgeMs: 100, now: time.now });
    cache.set('a', 1);
    time.advance(100);
    expect(cache.get('a')).toBe(1);
    time.advance(1);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('evicts the least recently used entry beyond maxEntries', () => {
    const cache = new BoundedCache<string, number>({ maxEntries: 2, maxAgeMs: 1_000 });
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1);
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.get('c')).toBe(3);
    expect(cache.size).toBe(2);
  });

  it('keeps the total weight within maxWeight and refuses an entry heavier than it', () => {
    const cache = new BoundedCache<string, string>({
      maxEntries: 100,
      maxAgeMs: 1_000,
      maxWeight: 10,
      weigh: (value) => value.length,
    });
    cache.set('a', 'xxxx');
    cache.set('b', 'xxxx');
    cache.set('c', 'xxxx');
    expect(cache.weight).toBe(8);
    expect(cache.get('a')).toBeUndefined();
    cache.set('huge', 'x'.repeat(11));
    expect(cache.get('huge')).toBeUndefined();
    expect(cache.weight).toBe(8);
  });

  it('stays bounded however many distinct keys it sees', () => {
    const cache = new BoundedCache<number, number>({ maxEntries: 50, maxAgeMs: 1_000 });
    for (let i = 0; i < 100_000; i += 1) cache.set(i, i);
    expect(cache.size).toBe(50);
    expect(cache.get(99_999)).toBe(99_999);
  });

  it('replaces a value under the same key without counting it twice', () => {
    const cache = new BoundedCache<string, string>({
      maxEntries: 5,
      maxAgeMs: 1_000,
      maxWeight: 100,
      weigh: (v) => v.length,
    });
    cache.set('a', 'xx');
    cache.set('a', 'xxx');
    expect(cache.weight).toBe(3);
    expect(cache.size).toBe(1);
  });

  it('throws when created without limits', () => {
    expect(() => new BoundedCache({ maxEntries: 0, maxAgeMs: 1 })).toThrow(RangeError);
  });
});
