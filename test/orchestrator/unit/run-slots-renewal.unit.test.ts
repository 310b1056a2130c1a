import { describe, expect, it } from 'vitest';
import type { SlotPoolPort } from '../../../functions/shared/limits/limiter-port.ts';
import { InMemorySlotPool } from '../../../functions/shared/limits/adapters/in-memory-limits.ts';
import { createRunSlots, runSlotPools } from '../../../functions/orchestrator/runtime/run-slots.ts';
import { testTenant } from '../../support/limits-doubles.ts';
import { ManualClock } from '../../support/manual-clock.ts';

/** Run slots over an in-memory pool that counts its acquires (each one a write on DynamoDB). */
function harness() {
  const clock = new ManualClock();
  const pool = new InMemorySlotPool({ clock });
  let acquires = 0;
  const counted: SlotPoolPort = {
    acquire: (...args) => {
      acquires += 1;
      return pool.acquire(...args);
    },
    renew: (...args) => pool.renew(...args),
    release: (...args) => pool.release(...args),
    holders: (...args) => pool.holders(...args),
  };
  const slots = createRunSlots({ pool: counted, nodeMaxConcurrentRuns: 10, leaseSeconds: 300, clock });
  return { clock, pool, slots, acquires: () => acquires };
}

describe('run slot renewal', () => {
  const tenant = testTenant('acme', { quotas: { max_concurrent_runs: 1 } });

  it('returns a renewal without writing while the lease outlasts the next step by the margin', async () => {
    const h = harness();
    expect(await h.slots.acquire(tenant, 'run-a', 60)).toEqual({ acquired: true });
    const afterAcquire = h.acquires();
    h.clock.advance(10_000);
    expect(await h.slots.renew(tenant, 'run-a', 60)).toEqual({ acquired: true });
    expect(h.acquires()).toBe(afterAcquire);
  });

  it('renews in the pool once the lease left would not cover the step and its margin', async () => {
    const h = harness();
    await h.slots.acquire(tenant, 'run-a', 60);
    const afterAcquire = h.acquires();
    // 300 s lease; a 60 s step needs 120 s left.
    h.clock.advance(181_000);
    expect(await h.slots.renew(tenant, 'run-a', 60)).toEqual({ acquired: true });
    expect(h.acquires()).toBe(afterAcquire + 2);
    const held = await h.pool.holders(runSlotPools.tenantRunning('acme'));
    expect(held.map((lease) => lease.holder)).toEqual(['run-a']);
  });

  it('renews in the pool after the run released its slots', async () => {
    const h = harness();
    await h.slots.acquire(tenant, 'run-a', 60);
    await h.slots.release('acme', 'run-a');
    await h.slots.acquire(tenant, 'run-b', 60);
    expect(await h.slots.renew(tenant, 'run-a', 60)).toMatchObject({
      acquired: false,
      reason: 'waiting_for_run_slot',
    });
  });
});
