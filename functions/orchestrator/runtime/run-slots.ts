import type { AuthContext } from '../../shared/auth/auth-context.ts';
import { BoundedCache } from '../../shared/cache/bounded-cache.ts';
import type { Clock } from '../../shared/timing/clock.ts';
import { systemClock } from '../../shared/timing/clock.ts';
import type { SlotDecision, SlotLease, SlotPoolPort } from '../../shared/limits/limiter-port.ts';
import { platformKeys, storageKeys } from '../../shared/storage/keys.ts';
import type { Tenant } from '../../shared/tenancy/tenant-schemas.ts';
import type { QueuePort } from '../ports/queue-port.ts';
import type { RunStatePort } from '../ports/run-state-port.ts';
import type { RunStatusReason } from '../schemas/run.ts';

/**
 * Run slots (HLD §5.2, §10.2): a run holds one slot of its tenant's `run-slots` pool (capacity
 * `max_concurrent_runs`) and one of the node's (the node's capacity) while it runs, and one of its
 * tenant's `run-queue` pool (capacity `max_queued_runs`) while it waits to start. Every slot is a
 * lease that expires, so a worker that dies holding one loses it and caps never leak; the run's
 * redelivered step takes it again.
 */

/** What an attempt to take a run's slots came to. */
export type RunSlotGrant =
  { acquired: true } | { acquired: false; reason: RunStatusReason; retryAfterSeconds: number };

/** What {@link createRunSlots} needs. */
export type RunSlotsOptions = {
  pool: SlotPoolPort;
  /** Runs the node runs at once across its tenants. */
  nodeMaxConcurrentRuns: number;
  /** Shortest lease of a run slot; a step's lease is at least its step timeout plus a margin. */
  leaseSeconds: number;
  /**
   * Longest a step's model call may take (the Model Policy client's timeout): a step can outlast its
   * step timeout by it, since the step timeout bounds the tool calls from the delivery on. None
   * when absent.
   */
  modelTimeoutSeconds?: number;
  /** The clock the pool's leases run on; the system's when absent. */
  clock?: Clock;
};

/** Time a step's lease lasts past its step timeout: the commit and the hand-over to the next step. */
export const runSlotLeaseMarginSeconds = 60;

/** The pool names of a tenant's and the node's run slots. */
export const runSlotPools = {
  tenantRunning: (tenantId: string) => storageKeys.tenantLimit(tenantId, 'run-slots'),
  tenantQueued: (tenantId: string) => storageKeys.tenantLimit(tenantId, 'run-queue'),
  nodeRunning: () => platformKeys.nodeLimit('run-slots'),
};

/** What waking a waiting run needs (HLD §10.2): its record, and the queue of its first step. */
export type RunWakeDeps = {
  runs: Pick<RunStatePort, 'getRun'>;
  queue: Pick<QueuePort, 'enqueueStep'>;
};

/** Most waiting runs one release wakes, however many slots are free. */
export const maxWakesPerRelease = 3;

/** Most waiting runs one release reads to find those it wakes. */
export const maxWakeCandidates = 5;

/**
 * How long a new run still `queued` without a `status_reason` is taken to have its first step
 * message on its way, so a release does not wake it: a step message waits at most this long in a
 * busy queue before its first try. An older one (its first step could not be scheduled) is woken.
 */
export const firstStepGraceSeconds = 60;

/** Creates the run slots of a node over a slot pool. */
export function createRunSlots(options: RunSlotsOptions) {
  const { pool } = options;
  const clock = options.clock ?? systemClock;
  /**
   * Until when this process knows a run holds both its slots (measured from before the take, so
   * never later than the pool's own expiry): a step whose lease still outlasts it by the margin
   * skips the renewal's two writes. Bounded; a forgotten entry only costs a renewal.
   */
  const heldUntil = new BoundedCache<string, number>({ maxEntries: 2_000, maxAgeMs: 3_600_000 });

  function leaseFor(stepTimeoutSeconds: number): number {
    return Math.max(options.leaseSeconds, Math.ceil(stepTimeoutSeconds) + runSlotLeaseMarginSeconds);
  }

  /**
   * Takes (or renews: the pool renews a holder's own lease) both slots of a run, or neither, and
   * gives back its slots in `release` once both are held. Most often all of it is one write; when
   * that cannot be (a pool full, a lapsed lease to drop), the pools are taken one by one.
   */
  async function take(
    tenant: Tenant,
    runId: string,
    stepTimeoutSeconds: number,
    release: readonly string[] = [],
  ): Promise<RunSlotGrant> {
    const lease = leaseFor(stepTimeoutSeconds);
    const takenAt = clock.now();
    heldUntil.delete(holderKey(tenant.tenant_id, runId));
    const tenantPool = runSlotPools.tenantRunning(tenant.tenant_id);
    const atOnce = await pool.acquireAll?.(
      runId,
      [
        { pool: tenantPool, capacity: tenant.quotas.max_concurrent_runs },
        { pool: runSlotPools.nodeRunning(), capacity: options.nodeMaxConcurrentRuns },
      ],
      lease,
      release,
    );
    if (atOnce === true) {
      heldUntil.set(holderKey(tenant.tenant_id, runId), takenAt + lease * 1000);
      return { acquired: true };
    }
    const own = await pool.acquire(tenantPool, runId, tenant.quotas.max_concurrent_runs, lease);
    if (!own.acquired) {
      return { acquired: false, reason: 'waiting_for_run_slot', retryAfterSeconds: own.retryAfterSeconds };
    }
    const node = await pool.acquire(runSlotPools.nodeRunning(), runId, options.nodeMaxConcurrentRuns, lease);
    if (!node.acquired) {
      // Not held while waiting for the node, so the tenant's other runs are not kept out by it.
      await pool.release(tenantPool, runId);
      return {
        acquired: false,
        reason: 'waiting_for_node_capacity',
        retryAfterSeconds: node.retryAfterSeconds,
      };
    }
    await Promise.all(release.map((name) => pool.release(name, runId)));
    heldUntil.set(holderKey(tenant.tenant_id, runId), takenAt + lease * 1000);
    return { acquired: true };
  }

  return {
    /** The node's capacity of running runs. */
    nodeCapacity: options.nodeMaxConcurrentRuns,

    /**
     * Takes the tenant slot and the node slot of a run that starts, for a step lasting at most
     * `stepTimeoutSeconds`, and gives its queue slot back once both are held. When either is full
     * the run holds neither and waits.
     */
    async acquire(tenant: Tenant, runId: string, stepTimeoutSeconds: number): Promise<RunSlotGrant> {
      return take(tenant, runId, stepTimeoutSeconds, [runSlotPools.tenantQueued(tenant.tenant_id)]);
    },

    /**
     * Renews a running run's slots for its next step; a slot whose lease lapsed (its worker died)
     * is taken again if free, else the run waits like a new one.
     */
    async renew(tenant: Tenant, runId: string, stepTimeoutSeconds: number): Promise<RunSlotGrant> {
      // A lease this process took that still outlasts the step by the margin needs no renewal:
      // the step ends (or its worker dies and the lease lapses) within it, as after a fresh take.
      // A step lasts up to its step timeout or its model call's timeout, whichever is longer; and
      // the lease left is never below half the shortest lease, so the skip never leaves a step
      // with much less than a fresh take would give it.
      const until = heldUntil.get(holderKey(tenant.tenant_id, runId));
      const longestStep = Math.max(
        Math.ceil(stepTimeoutSeconds),
        Math.ceil(options.modelTimeoutSeconds ?? 0),
      );
      const needed = Math.max(longestStep + runSlotLeaseMarginSeconds, options.leaseSeconds / 2) * 1000;
      if (until !== undefined && until - clock.now() >= needed) return { acquired: true };
      return take(tenant, runId, stepTimeoutSeconds);
    },

    /**
     * Takes a slot of the tenant's queue for a new run, held until the run starts (or for
     * `leaseSeconds`, the run's own timeout, at most); refused when `max_queued_runs` runs already
     * wait beyond the tenant's free run slots.
     */
    async enqueue(tenant: Tenant, runId: string, leaseSeconds: number): Promise<SlotDecision> {
      // A new run waits only when the tenant's run slots are full: the queue holds
      // `max_queued_runs` more runs than the run slots free now. It always holds `max_queued_runs`,
      // so a run within them (most often the queue is all but empty) needs no read of the run slots.
      const queue = runSlotPools.tenantQueued(tenant.tenant_id);
      const lease = Math.max(options.leaseSeconds, Math.ceil(leaseSeconds));
      const within = await pool.acquire(queue, runId, tenant.quotas.max_queued_runs, lease);
      if (within.acquired) return within;
      const running = await pool.holders(runSlotPools.tenantRunning(tenant.tenant_id));
      const free = Math.max(0, tenant.quotas.max_concurrent_runs - running.length);
      if (free === 0) return within;
      return pool.acquire(queue, runId, tenant.quotas.max_queued_runs + free, lease);
    },

    /** True when the node runs as many runs as it may (for the `reject` capacity mode). */
    async nodeFull(): Promise<boolean> {
      const held = await pool.holders(runSlotPools.nodeRunning());
      return held.length >= options.nodeMaxConcurrentRuns;
    },

    /**
     * Wakes the oldest runs waiting for a slot of `tenant` once a slot freed (HLD §10.2): each of
     * them, up to the tenant's free run slots (at most {@link maxWakesPerRelease}), gets a fresh
     * message of its first step, so it takes the slot now instead of at its next redelivery. Several
     * releases at once may wake the same run: a duplicate step message is harmless, and every
     * release counts the slots free after it, so as many distinct runs are woken as slots are free.
     * At most {@link maxWakeCandidates} queued runs are read, with `auth` (any Auth Context of the
     * tenant). A woken run's step message carries the run's own Auth Context, kept on its record,
     * whichever principal's run freed the slot. Skipped: runs no longer queued, runs created less
     * than {@link firstStepGraceSeconds} ago that wait for no slot (no `status_reason`: their first
     * step has not been tried yet and its message is on its way, so another would only run the
     * step twice), `long` runs (they wait inside their state machine) and runs stored without their
     * Auth Context unless they are `auth`'s principal's; their redelivery still brings them back. `queued`: the tenant's waiting
     * runs as {@link release} found them, when it could tell (else they are read). Returns the run
     * ids woken.
     */
    async wake(
      tenant: Tenant,
      auth: AuthContext,
      deps: RunWakeDeps,
      queued?: readonly SlotLease[],
    ): Promise<string[]> {
      // Nobody waits, most often: then the running runs need no read.
      queued ??= await pool.holders(runSlotPools.tenantQueued(tenant.tenant_id));
      if (queued.length === 0) return [];
      const running = await pool.holders(runSlotPools.tenantRunning(tenant.tenant_id));
      const free = Math.min(maxWakesPerRelease, tenant.quotas.max_concurrent_runs - running.length);
      const woken: string[] = [];
      for (const lease of queued.slice(0, maxWakeCandidates)) {
        if (woken.length >= free) break;
        const run = await deps.runs.getRun(auth, lease.holder);
        if (run === undefined || run.status !== 'queued' || run.mode !== 'standard') continue;
        const age = clock.now() - Date.parse(run.created_at);
        if (run.status_reason == null && age < firstStepGraceSeconds * 1000) continue;
        const stepAuth = run.auth ?? (run.principal_id === auth.principal.id ? auth : undefined);
        if (stepAuth === undefined) continue;
        await deps.queue.enqueueStep(stepAuth, { runId: run.run_id, step: 1 });
        woken.push(run.run_id);
      }
      return woken;
    },

    /**
     * Gives back every slot the run holds (at every terminal transition); releasing twice is
     * harmless. With `started`, the run is known to have started, which gave its queue slot back.
     * Answers the tenant's waiting runs (its queue pool's leases) when the same write could tell
     * them, for {@link wake}; undefined otherwise.
     */
    async release(
      tenantId: string,
      runId: string,
      options: { started?: boolean } = {},
    ): Promise<SlotLease[] | undefined> {
      heldUntil.delete(holderKey(tenantId, runId));
      const queue = runSlotPools.tenantQueued(tenantId);
      const pools = [
        runSlotPools.tenantRunning(tenantId),
        runSlotPools.nodeRunning(),
        ...(options.started === true ? [] : [queue]),
      ];
      if (pool.releaseAll !== undefined) return pool.releaseAll(pools, runId, queue);
      await Promise.all(pools.map((name) => pool.release(name, runId)));
      return undefined;
    },
  };
}

export type RunSlots = ReturnType<typeof createRunSlots>;

function holderKey(tenantId: string, runId: string): string {
  return `${tenantId}\u0000${runId}`;
}
