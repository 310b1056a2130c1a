import { describe, expect, it } from 'vitest';
import type { RateLimit, RateLimiterPort } from '../../functions/shared/limits/limiter-port.ts';

/**
 * A RateLimiterPort under test with its clock in the test's hands: `advance` moves the time the
 * adapter sees forward by `ms`, so refills are tested without waiting.
 */
export type RateLimiterHarness = { limiter: RateLimiterPort; advance(ms: number): void };

/** 10 per second with a burst of 5: one request uses 100 ms of the bucket. */
const limit: RateLimit = { rate: 10, periodSeconds: 1, burst: 5 };

/**
 * The behaviour every RateLimiterPort adapter must have (HLD §5.2 per-tenant rate and burst): a
 * GCRA token bucket that admits `burst` at once, then `rate` per period, per key, and says in its
 * decisions what the `RateLimit-*` and `Retry-After` headers need.
 */
export function rateLimiterPortConformance(name: string, factory: () => Promise<RateLimiterHarness>): void {
  describe(`RateLimiterPort conformance: ${name}`, () => {
    const key = () => `tenant/t-${crypto.randomUUID()}/limits/run-rate`;

    it('admits a burst at once, counting the remaining requests down, then refuses', async () => {
      const { limiter } = await factory();
      const bucket = key();
      const decisions = [];
      for (let i = 0; i < 6; i += 1) decisions.push(await limiter.take(bucket, limit));
      expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true, true, false]);
      expect(decisions.map((d) => d.remaining)).toEqual([4, 3, 2, 1, 0, 0]);
      expect(decisions.every((d) => d.limit === 5)).toBe(true);
      expect(decisions[4]).toMatchObject({ resetSeconds: 0.5, retryAfterSeconds: 0 });
    });

    it('knows a refusal without the store only while the bucket it refused is still full', async () => {
      const { limiter, advance } = await factory();
      const bucket = key();
      expect(limiter.knownRefusal(bucket, limit)).toBeUndefined();
      for (let i = 0; i < 5; i += 1) await limiter.take(bucket, limit);
      const refused = await limiter.take(bucket, limit);
      expect(limiter.knownRefusal(bucket, limit)).toEqual(refused);
      expect(limiter.knownRefusal(key(), limit)).toBeUndefined();
      advance(refused.retryAfterSeconds * 1000);
      expect(limiter.knownRefusal(bucket, limit)).toBeUndefined();
      expect((await limiter.take(bucket, limit)).allowed).toBe(true);
    });

    it('says a refused request can come back after one interval, and the bucket is full after the burst', async () => {
      const { limiter } = await factory();
      const bucket = key();
      for (let i = 0; i < 5; i += 1) await limiter.take(bucket, limit);
      expect(await limiter.take(bucket, limit)).toEqual({
        allowed: false,
        limit: 5,
        remaining: 0,
        resetSeconds: 0.5,
        retryAfterSeconds: 0.1,
      });
    });

    it('admits one more request per interval once the burst is spent', async () => {
      const { limiter, advance } = await factory();
      const bucket = key();
      for (let i = 0; i < 5; i += 1) await limiter.take(bucket, limit);
      advance(99);
      expect((await limiter.take(bucket, limit)).allowed).toBe(false);
      advance(1);
      expect(await limiter.take(bucket, limit)).toMatchObject({ allowed: true, remaining: 0 });
      expect((await limiter.take(bucket, limit)).allowed).toBe(false);
    });

    it('refills an idle bucket to its whole burst', async () => {
      const { limiter, advance } = await factory();
      const bucket = key();
      for (let i = 0; i < 5; i += 1) await limiter.take(bucket, limit);
      advance(60_000);
      const decisions = [];
      for (let i = 0; i < 6; i += 1) decisions.push((await limiter.take(bucket, limit)).allowed);
      expect(decisions).toEqual([true, true, true, true, true, false]);
    });

    it('admits the burst plus the rate over time, and no more', async () => {
      const { limiter, advance } = await factory();
      const bucket = key();
      let accepted = 0;
      // Three attempts every 50 ms for 2 s: far more than the bucket allows.
      for (let tick = 0; tick <= 40; tick += 1) {
        for (let i = 0; i < 3; i += 1) if ((await limiter.take(bucket, limit)).allowed) accepted += 1;
        if (tick < 40) advance(50);
      }
      expect(accepted).toBe(5 + 20);
    });

    it('admits exactly the burst from concurrent requests at one instant', async () => {
      const { limiter } = await factory();
      const bucket = key();
      const decisions = await Promise.all(Array.from({ length: 15 }, () => limiter.take(bucket, limit)));
      expect(decisions.filter((d) => d.allowed)).toHaveLength(5);
      expect(
        decisions
          .filter((d) => d.allowed)
          .map((d) => d.remaining)
          .sort(),
      ).toEqual([0, 1, 2, 3, 4]);
    });

    it('keeps one bucket per key', async () => {
      const { limiter } = await factory();
      const [a, b] = [key(), key()];
      for (let i = 0; i < 5; i += 1) await limiter.take(a, limit);
      expect((await limiter.take(a, limit)).allowed).toBe(false);
      expect(await limiter.take(b, limit)).toMatchObject({ allowed: true, remaining: 4 });
    });

    it('applies the limit given with each take, so a raised burst admits more at once', async () => {
      const { limiter } = await factory();
      const bucket = key();
      for (let i = 0; i < 5; i += 1) await limiter.take(bucket, limit);
      expect((await limiter.take(bucket, limit)).allowed).toBe(false);
      expect(await limiter.take(bucket, { ...limit, burst: 6 })).toMatchObject({
        allowed: true,
        remaining: 0,
      });
    });

    it('throws when the limit has no positive rate or burst', async () => {
      const { limiter } = await factory();
      await expect(limiter.take(key(), { ...limit, rate: 0 })).rejects.toThrow(RangeError);
      await expect(limiter.take(key(), { ...limit, burst: 0 })).rejects.toThrow(RangeError);
    });
  });
}
