import { describe, expect, it } from 'vitest';
import type { SlotPoolPort } from '../../../functions/shared/limits/limiter-port.ts';
import { InMemorySlotPool } from '../../../functions/shared/limits/adapters/in-memory-limits.ts';
import { createRunSlots, runSlotPools } from '../../../functions/orchestrator/runtime/run-slots.ts';
import { testTenant } from '../../support/limits-doubles.ts';
import { ManualClock } from '../../support/manual-clock.ts';

/** Run slots over an in-memory pool that counts its acquires (each one a write on DynamoDB). */
function harness(options: { leaseSeconds?: number; modelTimeoutSeconds?: number } = {}) {
  const clock = new ManualClock();
  const pool = new InMemorySlotPool({ clock });
  let acquires = 0;
  const released: string[] = [];
  const read: string[] = [];
  const counted: SlotPoolPort = {
    acquire: (...args) => {
      acquires += 1;
      return pool.acquire(...args);
    },
    renew: (...args) => pool.renew(...args),
    release: (name, holder) => {
      released.push(name);
      return pool.release(name, holder);
    },
    holders: (name) => {
      read.push(name);
      return pool.holders(name);
    },
  };
  const slots = createRunSlots({
    pool: counted,
    nodeMaxConcurrentRuns: 10,
    leaseSeconds: options.leaseSeconds ?? 300,
    ...(options.modelTimeoutSeconds === undefined
      ? {}
      : { modelTimeoutSeconds: options.modelTimeoutSeconds }),
    clock,
  });
  return { clock, pool, slots, acquires: () => acquires, released, read };
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

  it('renews in the pool once the lease left would not cover a model call longer than the step timeout', async () => {
    const h = harness({ modelTimeoutSeconds: 180 });
    await h.slots.acquire(tenant, 'run-a', 30);
    const afterAcquire = h.acquires();
    // 300 s lease, 200 s left: the 30 s step and its margin fit, a 180 s model call and its margin do not.
    h.clock.advance(100_000);
    expect(await h.slots.renew(tenant, 'run-a', 30)).toEqual({ acquired: true });
    expect(h.acquires()).toBe(afterAcquire + 2);
  });

  it('renews in the pool once less than half the shortest lease is left, however short the step', async () => {
    const h = harness({ modelTimeoutSeconds: 10 });
    await h.slots.acquire(tenant, 'run-a', 10);
    const afterAcquire = h.acquires();
    // 300 s lease, 140 s left: more than the 10 s step and its margin, less than 150 s.
    h.clock.advance(160_000);
    expect(await h.slots.renew(tenant, 'run-a', 10)).toEqual({ acquired: true });
    expect(h.acquires()).toBe(afterAcquire + 2);
  });

  it('returns a renewal without writing while the lease covers the model call, its margin and half the lease', async () => {
    const h = harness({ modelTimeoutSeconds: 180 });
    await h.slots.acquire(tenant, 'run-a', 30);
    const afterAcquire = h.acquires();
    h.clock.advance(50_000);
    expect(await h.slots.renew(tenant, 'run-a', 30)).toEqual({ acquired: true });
    expect(h.acquires()).toBe(afterAcquire);
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

describe('the writes and reads of a run that ends', () => {
  const tenant = testTenant('acme', { quotas: { max_concurrent_runs: 2, max_queued_runs: 5 } });
  const auth = {
    tenant_id: 'acme',
    principal: { id: 'u', type: 'user' as const },
    scopes: [],
    policy_context: {},
  };
  const nothingToWake = {
    runs: { getRun: () => Promise.reject(new Error('no run to read')) },
    queue: { enqueueStep: () => Promise.reject(new Error('no step to send')) },
  };

  it('returns the slots of a started run without touching the queue pool it left when it started', async () => {
    const h = harness();
    await h.slots.enqueue(tenant, 'run-a', 900);
    await h.slots.acquire(tenant, 'run-a', 60);
    h.released.length = 0;
    await h.slots.release('acme', 'run-a', { started: true });
    expect(h.released.sort()).toEqual(
      [runSlotPools.nodeRunning(), runSlotPools.tenantRunning('acme')].sort(),
    );
    expect(await h.pool.holders(runSlotPools.tenantRunning('acme'))).toEqual([]);
    expect(await h.pool.holders(runSlotPools.tenantQueued('acme'))).toEqual([]);
  });

  it('returns the queue slot too of a run not known to have started', async () => {
    const h = harness();
    await h.slots.enqueue(tenant, 'run-a', 900);
    await h.slots.release('acme', 'run-a');
    expect(await h.pool.holders(runSlotPools.tenantQueued('acme'))).toEqual([]);
  });

  it('queues a new run within the tenant’s max_queued_runs without reading its run slots', async () => {
    const h = harness();
    const roomy = testTenant('acme', { quotas: { max_concurrent_runs: 1, max_queued_runs: 2 } });
    expect((await h.slots.enqueue(roomy, 'run-a', 900)).acquired).toBe(true);
    expect((await h.slots.enqueue(roomy, 'run-b', 900)).acquired).toBe(true);
    expect(h.read).toEqual([]);
  });

  it('queues a run past max_queued_runs while run slots are free, and refuses it once they are not', async () => {
    const h = harness();
    const tight = testTenant('acme', { quotas: { max_concurrent_runs: 1, max_queued_runs: 1 } });
    expect((await h.slots.enqueue(tight, 'run-a', 900)).acquired).toBe(true);
    // One run slot free: the queue holds one run more.
    expect((await h.slots.enqueue(tight, 'run-b', 900)).acquired).toBe(true);
    await h.slots.acquire(tight, 'run-a', 60);
    expect((await h.slots.enqueue(tight, 'run-c', 900)).acquired).toBe(false);
  });

  it('takes both run slots and gives the queue slot back in one write when the pool can, and holds neither when the node is full', async () => {
    const clock = new ManualClock();
    const inner = new InMemorySlotPool({ clock });
    const writes: string[] = [];
    const pool: SlotPoolPort = {
      acquire: (...args) => (writes.push('acquire'), inner.acquire(...args)),
      renew: (...args) => inner.renew(...args),
      release: (...args) => (writes.push('release'), inner.release(...args)),
      holders: (name) => inner.holders(name),
      acquireAll: (...args) => (writes.push('acquireAll'), inner.acquireAll(...args)),
      releaseAll: (...args) => (writes.push('releaseAll'), inner.releaseAll(...args)),
    };
    const slots = createRunSlots({ pool, nodeMaxConcurrentRuns: 1, leaseSeconds: 300, clock });
    await slots.enqueue(tenant, 'run-a', 900);
    writes.length = 0;
    expect(await slots.acquire(tenant, 'run-a', 60)).toEqual({ acquired: true });
    expect(writes).toEqual(['acquireAll']);
    expect(await inner.holders(runSlotPools.tenantQueued('acme'))).toEqual([]);
    const other = testTenant('other', { quotas: { max_concurrent_runs: 1 } });
    await slots.enqueue(other, 'run-b', 900);
    expect(await slots.acquire(other, 'run-b', 60)).toMatchObject({
      acquired: false,
      reason: 'waiting_for_node_capacity',
    });
    expect(await inner.holders(runSlotPools.tenantRunning('other'))).toEqual([]);
    expect((await inner.holders(runSlotPools.tenantQueued('other'))).map((l) => l.holder)).toEqual(['run-b']);
    writes.length = 0;
    await slots.release('acme', 'run-a', { started: true });
    expect(writes).toEqual(['releaseAll']);
    expect(await slots.acquire(other, 'run-b', 60)).toEqual({ acquired: true });
  });

  it('returns no run woken after one read when no run waits', async () => {
    const h = harness();
    await h.slots.acquire(tenant, 'run-a', 60);
    h.read.length = 0;
    expect(await h.slots.wake(tenant, auth, nothingToWake)).toEqual([]);
    expect(h.read).toEqual([runSlotPools.tenantQueued('acme')]);
  });

  it('returns the waiting runs with the release of a started run, and a wake with them reads no pool', async () => {
    const clock = new ManualClock();
    const inner = new InMemorySlotPool({ clock });
    const read: string[] = [];
    const pool: SlotPoolPort = {
      acquire: (...args) => inner.acquire(...args),
      renew: (...args) => inner.renew(...args),
      release: (...args) => inner.release(...args),
      holders: (name) => (read.push(name), inner.holders(name)),
      acquireAll: (...args) => inner.acquireAll(...args),
      releaseAll: (...args) => inner.releaseAll(...args),
    };
    const slots = createRunSlots({ pool, nodeMaxConcurrentRuns: 10, leaseSeconds: 300, clock });
    await slots.acquire(tenant, 'run-a', 60);
    expect(await slots.release('acme', 'run-a', { started: true })).toEqual([]);
    expect(await slots.wake(tenant, auth, nothingToWake, [])).toEqual([]);
    expect(read).toEqual([]);
    await slots.acquire(tenant, 'run-b', 60);
    await slots.enqueue(tenant, 'run-c', 900);
    const waiting = await slots.release('acme', 'run-b', { started: true });
    expect(waiting?.map((lease) => lease.holder)).toEqual(['run-c']);
    // Not started: its queue slot goes back too, so the release cannot tell who waits.
    await slots.enqueue(tenant, 'run-d', 900);
    expect(await slots.release('acme', 'run-d')).toBeUndefined();
  });
});
