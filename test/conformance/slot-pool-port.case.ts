import { describe, expect, it } from 'vitest';
import type { SlotPoolPort } from '../../functions/shared/limits/limiter-port.ts';

/**
 * A SlotPoolPort under test with its clock in the test's hands: `advance` moves the time the
 * adapter sees forward by `ms`, so leases expire without waiting.
 */
export type SlotPoolHarness = { pool: SlotPoolPort; advance(ms: number): void };

const lease = 60;

/**
 * The behaviour every SlotPoolPort adapter must have (HLD §5.2 concurrency caps): at most
 * `capacity` unexpired leases per pool, even under concurrent acquires; a slot comes back when its
 * holder releases it or its lease runs out, so caps never leak.
 */
export function slotPoolPortConformance(name: string, factory: () => Promise<SlotPoolHarness>): void {
  describe(`SlotPoolPort conformance: ${name}`, () => {
    const poolKey = () => `tenant/t-${crypto.randomUUID()}/limits/run-slots`;

    it('grants slots up to the capacity, then refuses until the first lease would expire', async () => {
      const { pool } = await factory();
      const key = poolKey();
      const decisions = [];
      for (const holder of ['run-a', 'run-b', 'run-c', 'run-d'])
        decisions.push(await pool.acquire(key, holder, 3, lease));
      expect(decisions).toEqual([
        { acquired: true, inUse: 1, capacity: 3 },
        { acquired: true, inUse: 2, capacity: 3 },
        { acquired: true, inUse: 3, capacity: 3 },
        { acquired: false, inUse: 3, capacity: 3, retryAfterSeconds: lease },
      ]);
    });

    it('lets a holder acquire again without taking a second slot', async () => {
      const { pool } = await factory();
      const key = poolKey();
      await pool.acquire(key, 'run-a', 2, lease);
      expect(await pool.acquire(key, 'run-a', 2, lease)).toEqual({ acquired: true, inUse: 1, capacity: 2 });
      expect(await pool.acquire(key, 'run-b', 2, lease)).toMatchObject({ acquired: true, inUse: 2 });
    });

    it('gives a released slot to the next holder, and releasing a slot not held changes nothing', async () => {
      const { pool } = await factory();
      const key = poolKey();
      await pool.acquire(key, 'run-a', 1, lease);
      expect((await pool.acquire(key, 'run-b', 1, lease)).acquired).toBe(false);
      await pool.release(key, 'run-a');
      await pool.release(key, 'run-a');
      await pool.release(poolKey(), 'run-z');
      expect((await pool.acquire(key, 'run-b', 1, lease)).acquired).toBe(true);
      expect((await pool.holders(key)).map((l) => l.holder)).toEqual(['run-b']);
    });

    it('gives an expired lease to the next holder, and the expired holder can no longer renew', async () => {
      const { pool, advance } = await factory();
      const key = poolKey();
      await pool.acquire(key, 'run-dead', 1, lease);
      advance(lease * 1000 - 1);
      expect(await pool.acquire(key, 'run-b', 1, lease)).toMatchObject({
        acquired: false,
        retryAfterSeconds: 1,
      });
      advance(1);
      expect(await pool.holders(key)).toEqual([]);
      expect(await pool.acquire(key, 'run-b', 1, lease)).toEqual({ acquired: true, inUse: 1, capacity: 1 });
      expect(await pool.renew(key, 'run-dead', lease)).toBe(false);
    });

    it('keeps a renewed lease past its first expiry', async () => {
      const { pool, advance } = await factory();
      const key = poolKey();
      await pool.acquire(key, 'run-a', 1, lease);
      advance(lease * 500);
      expect(await pool.renew(key, 'run-a', lease)).toBe(true);
      advance(lease * 750);
      expect((await pool.acquire(key, 'run-b', 1, lease)).acquired).toBe(false);
      expect((await pool.holders(key)).map((l) => l.holder)).toEqual(['run-a']);
    });

    it('does not renew a lease that was never held', async () => {
      const { pool } = await factory();
      expect(await pool.renew(poolKey(), 'run-x', lease)).toBe(false);
    });

    it('lists the unexpired leases, the first to expire first', async () => {
      const { pool, advance } = await factory();
      const key = poolKey();
      await pool.acquire(key, 'run-long', 5, 120);
      await pool.acquire(key, 'run-short', 5, 10);
      advance(1000);
      await pool.acquire(key, 'run-mid', 5, 60);
      const holders = await pool.holders(key);
      expect(holders.map((l) => l.holder)).toEqual(['run-short', 'run-mid', 'run-long']);
      advance(10_000);
      expect((await pool.holders(key)).map((l) => l.holder)).toEqual(['run-mid', 'run-long']);
    });

    it('grants exactly the capacity to concurrent acquires', async () => {
      const { pool } = await factory();
      const key = poolKey();
      const decisions = await Promise.all(
        Array.from({ length: 30 }, (_, i) => pool.acquire(key, `run-${i}`, 3, lease)),
      );
      expect(decisions.filter((d) => d.acquired)).toHaveLength(3);
      expect(await pool.holders(key)).toHaveLength(3);
    });

    it('grants a slot freed by expiry to exactly one of concurrent acquires', async () => {
      const { pool, advance } = await factory();
      const key = poolKey();
      await pool.acquire(key, 'run-dead-1', 2, lease);
      await pool.acquire(key, 'run-alive', 2, lease * 2);
      advance(lease * 1000);
      const decisions = await Promise.all(
        Array.from({ length: 10 }, (_, i) => pool.acquire(key, `run-${i}`, 2, lease)),
      );
      expect(decisions.filter((d) => d.acquired)).toHaveLength(1);
      expect(await pool.holders(key)).toHaveLength(2);
    });

    it('keeps one pool per key', async () => {
      const { pool } = await factory();
      const [a, b] = [poolKey(), poolKey()];
      await pool.acquire(a, 'run-a', 1, lease);
      expect((await pool.acquire(b, 'run-b', 1, lease)).acquired).toBe(true);
    });

    it('takes a slot in every pool and gives back the released one in one step, or changes nothing', async () => {
      const { pool } = await factory();
      if (pool.acquireAll === undefined) return;
      const [own, node, queue] = [poolKey(), poolKey(), poolKey()];
      // Pools in use already: an adapter may answer false for a pool it has never seen.
      await pool.acquire(own, 'run-other', 2, lease);
      await pool.acquire(node, 'run-other', 1, lease);
      await pool.acquire(queue, 'run-a', 5, lease);
      const pools = [
        { pool: own, capacity: 2 },
        { pool: node, capacity: 1 },
      ];
      expect(await pool.acquireAll('run-a', pools, lease, [queue])).toBe(false);
      expect((await pool.holders(own)).map((l) => l.holder)).toEqual(['run-other']);
      expect((await pool.holders(queue)).map((l) => l.holder)).toEqual(['run-a']);
      await pool.release(node, 'run-other');
      expect(await pool.acquireAll('run-a', pools, lease, [queue])).toBe(true);
      expect((await pool.holders(own)).map((l) => l.holder).sort()).toEqual(['run-a', 'run-other']);
      expect((await pool.holders(node)).map((l) => l.holder)).toEqual(['run-a']);
      expect(await pool.holders(queue)).toEqual([]);
      // A holder renews its own leases however full the pools are.
      expect(await pool.acquireAll('run-a', pools, lease, [])).toBe(true);
      expect(await pool.acquire(node, 'run-b', 1, lease)).toMatchObject({ acquired: false });
    });

    it('grants every slot to at most as many concurrent takes in several pools as the smallest pool holds', async () => {
      const { pool } = await factory();
      if (pool.acquireAll === undefined) return;
      const [own, node] = [poolKey(), poolKey()];
      await pool.acquire(own, 'run-seed', 3, lease);
      await pool.acquire(node, 'run-seed', 2, lease);
      const pools = [
        { pool: own, capacity: 3 },
        { pool: node, capacity: 2 },
      ];
      const taken = await Promise.all(
        Array.from({ length: 8 }, (_, i) => pool.acquireAll!(`run-${i}`, pools, lease, [])),
      );
      expect(taken.filter(Boolean).length).toBeLessThanOrEqual(1);
      expect((await pool.holders(node)).length).toBeLessThanOrEqual(2);
    });

    it('gives back a holder’s slots in several pools at once, pools it holds nothing in included', async () => {
      const { pool } = await factory();
      if (pool.releaseAll === undefined) return;
      const [own, node, never] = [poolKey(), poolKey(), poolKey()];
      await pool.acquire(own, 'run-a', 2, lease);
      await pool.acquire(own, 'run-b', 2, lease);
      await pool.acquire(node, 'run-a', 2, lease);
      await pool.releaseAll([own, node], 'run-a');
      await pool.releaseAll([own, node, never], 'run-a');
      expect((await pool.holders(own)).map((l) => l.holder)).toEqual(['run-b']);
      expect(await pool.holders(node)).toEqual([]);
      expect(await pool.holders(never)).toEqual([]);
    });

    it('returns the leases of a watched pool with the release: none, live ones, or undefined when watched and released', async () => {
      const { pool, advance } = await factory();
      const releaseAll = pool.releaseAll?.bind(pool);
      expect(releaseAll).toBeDefined();
      if (releaseAll === undefined) return;
      const [own, node, queue, emptied] = [poolKey(), poolKey(), poolKey(), poolKey()];
      const holdBoth = async (holder: string) => {
        await pool.acquire(own, holder, 5, lease);
        await pool.acquire(node, holder, 5, lease);
      };
      await holdBoth('run-a');
      // A pool never used, and one whose every slot came back: nobody waits.
      expect(await releaseAll([own, node], 'run-a', queue)).toEqual([]);
      await pool.acquire(emptied, 'run-x', 2, lease);
      await pool.release(emptied, 'run-x');
      await holdBoth('run-a');
      expect(await releaseAll([own, node], 'run-a', emptied)).toEqual([]);
      // Runs waiting: their leases, oldest first, and the slots went back all the same.
      await pool.acquire(queue, 'run-q1', 5, lease);
      advance(1_000);
      await pool.acquire(queue, 'run-q2', 5, lease);
      await holdBoth('run-a');
      await holdBoth('run-b');
      const waiting = await releaseAll([own, node], 'run-a', queue);
      expect(waiting?.map((held) => held.holder)).toEqual(['run-q1', 'run-q2']);
      expect((await pool.holders(own)).map((held) => held.holder)).toEqual(['run-b']);
      expect((await pool.holders(node)).map((held) => held.holder)).toEqual(['run-b']);
      // Only an expired lease left: nobody waits any more.
      await pool.release(queue, 'run-q2');
      advance((lease + 1) * 1000);
      expect(await releaseAll([own, node], 'run-b', queue)).toEqual([]);
      expect(await pool.holders(own)).toEqual([]);
      // Watching a pool the holder gives back too: nothing to tell, the slot goes back.
      await pool.acquire(queue, 'run-c', 5, lease);
      expect(await releaseAll([own, queue], 'run-c', queue)).toBeUndefined();
      expect(await pool.holders(queue)).toEqual([]);
    });

    it('throws when the capacity or the holder id is out of range', async () => {
      const { pool } = await factory();
      await expect(pool.acquire(poolKey(), 'run-a', 1_000_000, lease)).rejects.toThrow(RangeError);
      await expect(pool.acquire(poolKey(), 'x'.repeat(65), 1, lease)).rejects.toThrow(RangeError);
      await expect(pool.acquire(poolKey(), 'run-a', 1, 0)).rejects.toThrow(RangeError);
    });
  });
}
