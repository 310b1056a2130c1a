import { randomUUID } from 'node:crypto';
import type { SlotPoolPort } from '../../shared/limits/limiter-port.ts';
import { rateLimited } from '../../shared/limits/rate-limit-headers.ts';
import type { FailureReporter } from '../../shared/observability/failure-reporter.ts';
import { storageKeys } from '../../shared/storage/keys.ts';
import { systemClock } from '../../shared/timing/clock.ts';
import type { Clock } from '../../shared/timing/clock.ts';
import type { Tenant } from '../../shared/tenancy/tenant-schemas.ts';

/** How long an open stream's slot lasts unless renewed; renewed three times as often. */
export const defaultStreamSlotLeaseSeconds = 60;

/** A stream's slot, held while the stream is open. */
export type StreamSlot = {
  /** Gives the slot back and stops renewing it; closing twice is harmless. */
  close(): Promise<void>;
};

/**
 * The tenant's open-stream cap across every function instance (HLD §5.2): each event stream holds
 * a slot of the tenant's `sse-slots` pool (capacity `max_sse_connections`), renewed while it is
 * open and given back when it ends; a stream whose process died loses its slot when the lease
 * runs out. The per-process caps of the event hub still apply.
 */
export function createStreamSlots(options: {
  pool: SlotPoolPort;
  reportFailure: FailureReporter;
  leaseSeconds?: number;
  clock?: Clock;
}) {
  const leaseSeconds = options.leaseSeconds ?? defaultStreamSlotLeaseSeconds;
  const clock = options.clock ?? systemClock;
  return {
    /**
     * Takes a slot for a new stream of the tenant.
     *
     * @throws RateLimitedError (`tenant_sse_connections`) when the tenant holds as many streams open as it may
     */
    async open(tenant: Tenant): Promise<StreamSlot> {
      const pool = storageKeys.tenantLimit(tenant.tenant_id, 'sse-slots');
      const holder = randomUUID();
      const cap = tenant.quotas.max_sse_connections;
      const decision = await options.pool.acquire(pool, holder, cap, leaseSeconds);
      if (!decision.acquired) {
        throw rateLimited(
          'tenant_sse_connections',
          `The tenant holds as many event streams open as it may (${cap}); retry later`,
          decision.retryAfterSeconds,
        );
      }
      const stop = new AbortController();
      const renewing = (async () => {
        for (;;) {
          await clock.sleep((leaseSeconds * 1000) / 3, stop.signal);
          if (stop.signal.aborted) return;
          await options.pool
            .renew(pool, holder, leaseSeconds)
            .catch((error: unknown) =>
              options.reportFailure('event stream slot not renewed', error, { tenant_id: tenant.tenant_id }),
            );
        }
      })();
      let closed: Promise<void> | undefined;
      return {
        close: () => {
          closed ??= (async () => {
            stop.abort();
            await renewing;
            await options.pool.release(pool, holder).catch((error: unknown) =>
              options.reportFailure('event stream slot not released', error, {
                tenant_id: tenant.tenant_id,
              }),
            );
          })();
          return closed;
        },
      };
    },
  };
}

export type StreamSlots = ReturnType<typeof createStreamSlots>;
