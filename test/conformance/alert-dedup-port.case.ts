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

    it('returns true for the first claim and false for every claim inside the window', async () => {
      const dedup = await factory();
      const alarm = key();
      expect(await dedup.claim(alarm, t0, window)).toBe(true);
      expect(await dedup.claim(alarm, t0 + 1, window)).toBe(false);
      expect(await dedup.claim(alarm, t0 + window - 1, window)).toBe(false);
    });

    it('returns true again once the window has passed', async () => {
      const dedup = await factory();
      const alarm = key();
      expect(await dedup.claim(alarm, t0, window)).toBe(true);
      expect(await dedup.claim(alarm, t0 + window, window)).toBe(true);
      expect(await dedup.claim(alarm, t0 + window + 1, window)).toBe(false);
    });

    it('returns true for one of many concurrent claims of one key', async () => {
      const dedup = await factory();
      const alarm = key();
      const claims = await Promise.all(Array.from({ length: 8 }, () => dedup.claim(alarm, t0, window)));
      expect(claims.filter(Boolean)).toHaveLength(1);
    });

    it('keeps the claims of different keys apart', async () => {
      const dedup = await factory();
      expect(await dedup.claim(key(), t0, window)).toBe(true);
      expect(await dedup.claim(key(), t0, window)).toBe(true);
    });

    it('returns true after the claim was given back, and leaves a newer claim alone', async () => {
      const dedup = await factory();
      const alarm = key();
      expect(await dedup.claim(alarm, t0, window)).toBe(true);
      await dedup.release(alarm, t0);
      expect(await dedup.claim(alarm, t0 + 5, window)).toBe(true);
      await dedup.release(alarm, t0);
      expect(await dedup.claim(alarm, t0 + 6, window)).toBe(false);
    });
  });
}
