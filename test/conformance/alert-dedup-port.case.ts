import { describe, expect, it } from 'vitest';
import type { AlertDedupPort } from '../../functions/shared/observability/alert-dedup-port.ts';

/**
 * The behaviour every AlertDedupPort adapter must have (HLD §9.3): one claim per key and window,
 * decided atomically, so repeated triggers of an alarm send one e-mail; a claim given back (its
 * e-mail failed) lets the next trigger send.
 */
export function alertDedupPortConformance(name: string, factory: () => Promise<AlertDedupPort>): void {
  describe(`AlertDedupPort conformance: ${name}`, () => {
    const key = () => `service_down-${crypto.randomUUID()}`;
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const window = 60_000;

    it('returns a token for the first claim and nothing for every claim inside the window', async () => {
      const dedup = await factory();
      const alarm = key();
      expect(await dedup.claim(alarm, t0, window)).toBeTypeOf('string');
      expect(await dedup.claim(alarm, t0 + 1, window)).toBeUndefined();
      expect(await dedup.claim(alarm, t0 + window - 1, window)).toBeUndefined();
    });

    it('returns a token again once the window has passed', async () => {
      const dedup = await factory();
      const alarm = key();
      expect(await dedup.claim(alarm, t0, window)).toBeTypeOf('string');
      expect(await dedup.claim(alarm, t0 + window, window)).toBeTypeOf('string');
      expect(await dedup.claim(alarm, t0 + window + 1, window)).toBeUndefined();
    });

    it('returns a token for one of many concurrent claims of one key', async () => {
      const dedup = await factory();
      const alarm = key();
      const claims = await Promise.all(Array.from({ length: 8 }, () => dedup.claim(alarm, t0, window)));
      expect(claims.filter((claim) => claim !== undefined)).toHaveLength(1);
    });

    it('keeps the claims of different keys apart', async () => {
      const dedup = await factory();
      expect(await dedup.claim(key(), t0, window)).toBeTypeOf('string');
      expect(await dedup.claim(key(), t0, window)).toBeTypeOf('string');
    });

    it('returns a token after the claim was given back, and leaves a newer claim alone', async () => {
      const dedup = await factory();
      const alarm = key();
      const first = await dedup.claim(alarm, t0, window);
      expect(first).toBeTypeOf('string');
      await dedup.release(alarm, first!);
      expect(await dedup.claim(alarm, t0 + 5, window)).toBeTypeOf('string');
      await dedup.release(alarm, first!);
      expect(await dedup.claim(alarm, t0 + 6, window)).toBeUndefined();
    });

    it('returns different tokens for claims in one millisecond, and a release gives back only its own', async () => {
      const dedup = await factory();
      const alarm = key();
      // A zero window lapses at once: a second claimant may claim in the very same millisecond.
      const first = await dedup.claim(alarm, t0, 0);
      const second = await dedup.claim(alarm, t0, window);
      expect(first).toBeTypeOf('string');
      expect(second).toBeTypeOf('string');
      expect(second).not.toBe(first);
      await dedup.release(alarm, first!);
      expect(await dedup.claim(alarm, t0 + 1, window)).toBeUndefined();
      await dedup.release(alarm, second!);
      expect(await dedup.claim(alarm, t0 + 2, window)).toBeTypeOf('string');
    });

    it('returns without error when giving back a claim that is not held', async () => {
      const dedup = await factory();
      await expect(dedup.release(key(), 'no-such-token')).resolves.toBeUndefined();
    });
  });
}
