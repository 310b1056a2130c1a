import { describe, expect, it } from 'vitest';
import { createStreamSlots } from '../../../functions/orchestrator/events/stream-slots.ts';
import { RateLimitedError } from '../../../functions/shared/errors/agentos-error.ts';
import { storageKeys } from '../../../functions/shared/storage/keys.ts';
import type { Clock } from '../../../functions/shared/timing/clock.ts';
import { InMemorySlotPool } from '../../../functions/shared/limits/adapters/in-memory-limits.ts';
import { testTenant } from '../../support/limits-doubles.ts';
import { ManualClock } from '../../support/manual-clock.ts';

const pool = storageKeys.tenantLimit('acme', 'sse-slots');

/** A clock whose sleeps last until they are aborted: no lease is renewed meanwhile. */
const stillClock = (clock: ManualClock): Clock => ({
  now: () => clock.now(),
  sleep: (_ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted === true) resolve();
      else signal?.addEventListener('abort', () => resolve(), { once: true });
    }),
});

describe('the tenant open-stream cap', () => {
  it('refuses a stream over max_sse_connections with tenant_sse_connections and frees a slot on close', async () => {
    const clock = new ManualClock();
    const slots = new InMemorySlotPool({ clock });
    const streams = createStreamSlots({
      pool: slots,
      reportFailure: () => undefined,
      clock: stillClock(clock),
    });
    const tenant = testTenant('acme', { quotas: { max_sse_connections: 2 } });
    const first = await streams.open(tenant);
    await streams.open(tenant);
    const refused = await streams.open(tenant).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RateLimitedError);
    expect((refused as RateLimitedError).details).toMatchObject({ limit: 'tenant_sse_connections' });
    await first.close();
    await first.close();
    expect(await slots.holders(pool)).toHaveLength(1);
    await expect(streams.open(tenant)).resolves.toBeDefined();
  });

  it('renews an open stream past its lease, and a stream that is never closed loses its slot when the lease ends', async () => {
    const clock = new ManualClock();
    const slots = new InMemorySlotPool({ clock });
    const tenant = testTenant('acme', { quotas: { max_sse_connections: 1 } });
    const renewing = createStreamSlots({
      pool: slots,
      reportFailure: () => undefined,
      clock,
      leaseSeconds: 60,
    });
    const open = await renewing.open(tenant);
    await clock.sleep(200_000);
    expect(await slots.holders(pool)).toHaveLength(1);
    await open.close();
    expect(await slots.holders(pool)).toEqual([]);
    // A process that died: its stream's lease is not renewed.
    const dead = createStreamSlots({
      pool: slots,
      reportFailure: () => undefined,
      clock: stillClock(clock),
      leaseSeconds: 60,
    });
    await dead.open(tenant);
    clock.advance(60_001);
    await expect(dead.open(tenant)).resolves.toBeDefined();
  });
});
