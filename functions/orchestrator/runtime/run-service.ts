import { scopes } from '../../shared/auth/auth-context.ts';
import type { AuthContext, Scope } from '../../shared/auth/auth-context.ts';
import { fingerprint } from '../../shared/encoding/canonical-json.ts';
import type { FailureReporter } from '../../shared/observability/failure-reporter.ts';
import {
  ConflictError,
  DependencyUnavailableError,
  IdempotencyKeyReusedError,
  InvalidRequestError,
  NotFoundError,
  RateLimitedError,
} from '../../shared/errors/agentos-error.ts';
import type { AgentRegistryPort } from '../ports/agent-registry-port.ts';
import type { EventSinkPort } from '../ports/event-sink-port.ts';
import type { QueuePort } from '../ports/queue-port.ts';
import type { RunDriverPort } from '../ports/run-driver-port.ts';
import { RunStateConflictError, RunTooLargeError } from '../ports/run-state-port.ts';
import type {
  ClaimedRun,
  CreateRunResult,
  IdempotencyClaim,
  RunRecord,
  RunStatePort,
} from '../ports/run-state-port.ts';
import { newEvent } from '../schemas/event.ts';
import { defaultStepTimeoutSeconds } from '../schemas/agent.ts';
import type { AgentDefinition } from '../schemas/agent.ts';
import type { RunEvent } from '../schemas/event.ts';
import type { CreateRunRequest, Run, RunStatus } from '../schemas/run.ts';
import type { StepRecord } from '../schemas/step.ts';
import { eventIds } from './event-ids.ts';
import { queuedRunRecord } from './queued-run-record.ts';
import { isTerminal, statesLeadingTo } from './run-state-machine.ts';
import type {
  RateBucket,
  RateDecision,
  RateLimit,
  RateLimiterPort,
} from '../../shared/limits/limiter-port.ts';
import { rateLimited } from '../../shared/limits/rate-limit-headers.ts';
import { storageKeys } from '../../shared/storage/keys.ts';
import type { Tenant } from '../../shared/tenancy/tenant-schemas.ts';
import { runSlotLeaseMarginSeconds } from './run-slots.ts';
import type { RunSlots } from './run-slots.ts';

/** What a node does with a new run while it runs as many runs as it may (HLD §10.2). */
export type NodeCapacityMode = 'queue' | 'reject';

/** The limits run creation enforces (HLD §5.2, §10.2). */
export type RunCreationLimits = {
  limiter: RateLimiterPort;
  slots: RunSlots;
  /** `queue`: a run past the node's capacity waits queued; `reject`: it is refused with 429. */
  nodeCapacityMode: NodeCapacityMode;
};

/** `Retry-After` of a run refused because the node is full: runs end all the time. */
const nodeFullRetrySeconds = 5;
/**
 * The longest `Retry-After` of a run refused because the tenant's queue is full. A queue slot frees
 * when any of the tenant's runs ends, usually long before the oldest lease (the run's timeout plus a
 * margin, minutes) would lapse, so the lease's end is no useful retry time.
 */
const queueFullRetrySeconds = 5;

/** What the run service needs from the world. */
export type RunServiceDeps = {
  runs: RunStatePort;
  queue: QueuePort;
  /** Starts and stops the executions that drive `long` runs (HLD §4.3). */
  driver?: RunDriverPort;
  agents: AgentRegistryPort;
  sink: EventSinkPort;
  /** Logs and counts a failure that does not change the caller's answer. */
  reportFailure: FailureReporter;
  now: () => Date;
  newRunId: () => string;
  /** How long an idempotency key is remembered; at least 24 h. */
  idempotencyTtlSeconds: number;
  /** Tenant and node limits; absent, runs are created without them (tests of other concerns). */
  limits?: RunCreationLimits;
  /**
   * Sends the cancel of a run forwarded to a peer, already canceled here, to that peer (HLD §7.3)
   * and answers the run with the outcome; absent, a forwarded run is canceled here only.
   */
  cancelForwarded?: (auth: AuthContext, run: Run) => Promise<Run>;
};

/** The public view of a run. */
export function toRunView(run: RunRecord): Run {
  return {
    object: 'run',
    run_id: run.run_id,
    agent_id: run.agent_id,
    agent_version: run.agent_version,
    mode: run.mode,
    status: run.status,
    input: run.input,
    output: run.output,
    error: run.error,
    steps_completed: run.steps_completed,
    last_sequence: run.last_sequence,
    usage: run.usage,
    metadata: run.metadata,
    created_at: run.created_at,
    updated_at: run.updated_at,
    started_at: run.started_at,
    ended_at: run.ended_at,
    // A run that ended waits for nothing, whatever it last waited for.
    status_reason: isTerminal(run.status) ? null : (run.status_reason ?? null),
    events_url: `/v1/runs/${run.run_id}/events`,
    ...(run.federation === undefined
      ? {}
      : { federation: { ...run.federation, replicated_sequence: run.replicated_sequence ?? 0 } }),
  };
}

/** Creates, reads and cancels runs; the API handlers are thin wrappers around it. */
export function createRunService(deps: RunServiceDeps) {
  /**
   * The run, if the caller may see it: a member sees the runs it created; `all` (`runs:read:all` to
   * read, `runs:write:all` to cancel) opens every run of the tenant. Another member's run answers
   * 404 like a missing one, so run ids of others cannot be probed (HLD §5.2).
   */
  async function load(auth: AuthContext, runId: string, all: Scope = scopes.runsReadAll): Promise<RunRecord> {
    const run = await deps.runs.getRun(auth, runId);
    if (run === undefined || (run.principal_id !== auth.principal.id && !auth.scopes.includes(all))) {
      throw new NotFoundError(`Run ${runId} was not found`);
    }
    return run;
  }

  /** Gives back a run's slots; a failure is reported (the leases expire on their own). */
  async function releaseSlots(tenantId: string, runId: string): Promise<void> {
    await deps.limits?.slots
      .release(tenantId, runId)
      .catch((error: unknown) => deps.reportFailure('run slots not released', error, { run_id: runId }));
  }

  /**
   * Wakes the oldest runs of the tenant waiting for the slot a canceled run gave back, as a run that
   * ends does (HLD §10.2), instead of leaving them to their backoff. A disabled tenant's runs stay
   * asleep. A failure is reported: a run not woken comes back with its own redelivery.
   */
  async function wakeWaiting(auth: AuthContext, tenant: Tenant | undefined, runId: string): Promise<void> {
    const slots = deps.limits?.slots;
    if (slots === undefined || tenant === undefined || tenant.status === 'disabled') return;
    await slots
      .wake(tenant, auth, { runs: deps.runs, queue: deps.queue })
      .catch((error: unknown) =>
        deps.reportFailure('waiting run not woken', error, { run_id: runId, tenant_id: tenant.tenant_id }),
      );
  }

  /**
   * Takes one run creation from the tenant's token bucket (`runs_per_second`, `run_burst`).
   *
   * @throws RateLimitedError (`tenant_run_rate`) when the bucket is empty
   */
  async function takeRunRate(limits: RunCreationLimits, tenant: Tenant): Promise<RateDecision> {
    return runRateDecision(tenant, await limits.limiter.take(...runRateBucket(tenant)));
  }

  /** The tenant's run-rate bucket: its key and limit. */
  function runRateBucketOf(tenant: Tenant): RateBucket {
    const { runs_per_second: rate, run_burst: burst } = tenant.quotas;
    return {
      key: storageKeys.tenantLimit(tenant.tenant_id, 'run-rate'),
      limit: { rate, periodSeconds: 1, burst },
    };
  }

  /** The tenant's run-rate bucket as a limiter's arguments. */
  function runRateBucket(tenant: Tenant): [string, RateLimit] {
    const { key, limit } = runRateBucketOf(tenant);
    return [key, limit];
  }

  /**
   * Refuses a run at once when this instance already knows the tenant's run rate is spent, before
   * any read: a tenant flooding past its quota costs the storage every tenant shares nothing more.
   *
   * @throws RateLimitedError (`tenant_run_rate`)
   */
  function refuseKnownFlood(limits: RunCreationLimits, tenant: Tenant): void {
    const known = limits.limiter.knownRefusal(...runRateBucket(tenant));
    if (known !== undefined) runRateDecision(tenant, known);
  }

  /**
   * The decision itself when allowed.
   *
   * @throws RateLimitedError (`tenant_run_rate`) when it refuses
   */
  function runRateDecision(tenant: Tenant, decision: RateDecision): RateDecision {
    if (!decision.allowed) throw runRateRefusal(runRateBucketOf(tenant).limit, decision);
    return decision;
  }

  /** The refusal of a run creation by the tenant's run rate (`tenant_run_rate`), worded by its limit. */
  function runRateRefusal(limit: RateLimit | undefined, decision: RateDecision): RateLimitedError {
    return rateLimited(
      'tenant_run_rate',
      limit === undefined
        ? 'The tenant created as many runs as its run rate allows; retry later'
        : `The tenant may create ${limit.rate} runs per second (${limit.burst} at once); retry later`,
      decision.retryAfterSeconds,
      decision,
    );
  }

  /**
   * Holds a queue slot for the new run, and refuses it when the node is full in `reject` mode.
   *
   * @throws RateLimitedError (`node_concurrent_runs`, `tenant_queued_runs`)
   */
  async function admitRun(
    limits: RunCreationLimits,
    tenant: Tenant,
    runId: string,
    timeoutSeconds: number,
  ): Promise<void> {
    if (limits.nodeCapacityMode === 'reject' && (await limits.slots.nodeFull())) {
      throw rateLimited(
        'node_concurrent_runs',
        `The node runs as many runs as it may (${limits.slots.nodeCapacity}); retry later`,
        nodeFullRetrySeconds,
      );
    }
    const queued = await limits.slots.enqueue(tenant, runId, timeoutSeconds + runSlotLeaseMarginSeconds);
    if (!queued.acquired) {
      throw rateLimited(
        'tenant_queued_runs',
        `The tenant has as many runs waiting as it may (${tenant.quotas.max_queued_runs} beyond its ${tenant.quotas.max_concurrent_runs} concurrent runs); retry later`,
        Math.min(queued.retryAfterSeconds, queueFullRetrySeconds),
      );
    }
  }

  /** Publishes committed events; the store already holds them, so a failed publish is reported, not thrown. */
  async function publish(auth: AuthContext, events: RunEvent[], run: RunRecord): Promise<void> {
    await deps.sink
      .publish(auth, events, run)
      .catch((error: unknown) =>
        deps.reportFailure('run events not published', error, { count: events.length }),
      );
  }

  /**
   * Hands step 1 to the queue, or starts a `long` run's execution, which sends it (the execution
   * is recorded on the run so a cancel can stop it).
   */
  async function startFirstStep(
    auth: AuthContext,
    run: RunRecord,
    stepTimeoutSeconds: number,
  ): Promise<void> {
    if (run.mode !== 'long') {
      await deps.queue.enqueueStep(auth, { runId: run.run_id, step: 1 });
      return;
    }
    if (deps.driver === undefined) throw new Error('This node cannot drive long runs');
    const executionArn = await deps.driver.start(auth, { runId: run.run_id, stepTimeoutSeconds });
    try {
      await deps.runs.commit(auth, run.run_id, {
        requireStatus: ['queued', 'running'],
        changes: { execution_arn: executionArn },
        events: [],
      });
    } catch (error) {
      if (!(error instanceof RunStateConflictError)) throw error;
      // Canceled (or over) before its execution was recorded: no step of it may run.
      await deps.driver
        .stop(executionArn, `run is ${error.actual}`)
        .catch((failure: unknown) =>
          deps.reportFailure('long run execution not stopped', failure, { run_id: run.run_id }),
        );
    }
  }

  /** Schedules step 1 and records that it did, so an idempotent retry knows whether to do it again. */
  async function scheduleFirstStep(
    auth: AuthContext,
    run: RunRecord,
    stepTimeoutSeconds: number,
  ): Promise<void> {
    try {
      await startFirstStep(auth, run, stepTimeoutSeconds);
    } catch (cause) {
      throw new DependencyUnavailableError(
        'The run was stored but could not be scheduled; retry with the same Idempotency-Key',
        {
          cause,
          details: { run_id: run.run_id },
        },
      );
    }
    await deps.runs
      .commit(auth, run.run_id, {
        requireStatus: ['queued'],
        changes: { scheduled_at: deps.now().toISOString() },
        events: [],
      })
      .catch((error: unknown) => {
        // Already started by a worker: being scheduled is then a given.
        if (!(error instanceof RunStateConflictError)) throw error;
      });
  }

  /**
   * Stops a `long` run's execution once the run is over. The run is already canceled, so a failure
   * only leaves the execution to end at its next step; it is reported, not thrown.
   */
  async function stopExecution(run: RunRecord, reason: string): Promise<void> {
    if (run.mode !== 'long' || run.execution_arn === null || deps.driver === undefined) return;
    await deps.driver
      .stop(run.execution_arn, reason)
      .catch((error: unknown) =>
        deps.reportFailure('long run execution not stopped', error, { run_id: run.run_id }),
      );
  }

  /** The answer to a request whose Idempotency-Key a live claim already holds. */
  /** Cancels the run on this node: a canceled run stays as it is; a finished one is a conflict. */
  async function cancelHere(auth: AuthContext, run: RunRecord, tenant: Tenant | undefined): Promise<Run> {
    if (run.status === 'canceled') return toRunView(run);
    const runId = run.run_id;
    try {
      const at = deps.now().toISOString();
      const result = await deps.runs.commit(auth, runId, {
        requireStatus: statesLeadingTo('canceled'),
        status: 'canceled',
        changes: { ended_at: at },
        events: [
          newEvent(eventIds.runTerminal(runId), 'run.canceled', {
            status: 'canceled',
            reason: `canceled by ${auth.principal.type}`,
          }),
        ],
      });
      await publish(auth, result.events, result.run);
      await releaseSlots(run.tenant_id, runId);
      await wakeWaiting(auth, tenant, runId);
      await stopExecution(result.run, 'canceled');
      return toRunView(result.run);
    } catch (error) {
      if (error instanceof RunStateConflictError) {
        if (error.actual === 'canceled') return toRunView(await load(auth, runId, scopes.runsWriteAll));
        throw new ConflictError(`The run is already ${error.actual} and cannot be canceled`, {
          details: { status: error.actual },
        });
      }
      throw error;
    }
  }

  async function replayOf(auth: AuthContext, result: ClaimedRun): Promise<{ run: Run; replayed: true }> {
    if (result.outcome === 'key_reused') {
      throw new IdempotencyKeyReusedError(
        'This Idempotency-Key was already used with a different request body',
        {
          details: { header: 'Idempotency-Key' },
        },
      );
    }
    // The first attempt may have stored the run and then failed to enqueue it.
    if (result.run.status === 'queued' && result.run.scheduled_at === null) {
      // The version the run was created with, even if the agent was deleted since.
      const agent = await deps.agents.getVersion(auth, result.run.agent_id, result.run.agent_version);
      await scheduleFirstStep(auth, result.run, agent?.step_timeout_seconds ?? defaultStepTimeoutSeconds);
    }
    return { run: toRunView(result.run), replayed: true };
  }

  /**
   * What a creation refused before its run was stored answers: the run of a live claim with the
   * same request (a replay needs no agent and takes no run creation nor queue slot, HLD §4.3,
   * §10.2), `idempotency_key_reused` for another request, else the refusal itself.
   */
  async function refusedOrClaimed(
    auth: AuthContext,
    claim: IdempotencyClaim | undefined,
    at: string,
    refusal: unknown,
  ): Promise<{ run: Run; replayed: true }> {
    const earlier = claim === undefined ? undefined : await deps.runs.findIdempotentRun(auth, claim, at);
    if (earlier === undefined) throw refusal;
    return replayOf(auth, earlier);
  }

  /**
   * Admits a new run: refuses a known flood, looks its agent up and holds a queue slot for it. The
   * slot is held before the run exists, so no stored run is ever without one.
   *
   * @throws NotFoundError for an unknown agent
   * @throws RateLimitedError (`tenant_run_rate` when known spent, `tenant_queued_runs`, `node_concurrent_runs`)
   */
  async function admitNew(
    auth: AuthContext,
    body: CreateRunRequest,
    tenant: Tenant | undefined,
  ): Promise<{ agent: AgentDefinition; runId: string }> {
    if (tenant !== undefined && deps.limits !== undefined) refuseKnownFlood(deps.limits, tenant);
    // The agent is looked up first: a request refused for its own fault spends no run creation.
    const agent = await deps.agents.get(auth, body.agent_id);
    if (agent === undefined) {
      throw new NotFoundError(`Agent ${body.agent_id} was not found`, { details: { field: 'agent_id' } });
    }
    const runId = deps.newRunId();
    if (tenant !== undefined && deps.limits !== undefined) {
      await admitRun(deps.limits, tenant, runId, agent.timeout_seconds);
    }
    return { agent, runId };
  }

  /**
   * Stores an admitted run, taking the tenant's run rate in the same write, and schedules its first
   * step. A live claim met by that write answers its run instead (`replayed`); a run the rate
   * refuses is not stored. Either way its queue slot is given back.
   *
   * @throws RateLimitedError (`tenant_run_rate`)
   */
  async function storeNew(
    auth: AuthContext,
    body: CreateRunRequest,
    claim: IdempotencyClaim | undefined,
    at: string,
    tenant: Tenant | undefined,
    admitted: { agent: AgentDefinition; runId: string },
  ): Promise<{ run: Run; replayed: boolean; rateLimit?: RateDecision }> {
    const { agent, runId } = admitted;
    const rate =
      tenant === undefined || deps.limits === undefined
        ? undefined
        : { bucket: runRateBucketOf(tenant), limiter: deps.limits.limiter };
    const record = queuedRunRecord(auth, body, at, {
      run_id: runId,
      agent_version: agent.version,
      mode: agent.run_mode,
      scheduled_at: null,
    });
    const queued = newEvent(eventIds.runQueued(runId), 'run.queued', {
      agent_id: body.agent_id,
      status: 'queued',
    });
    let result: CreateRunResult;
    try {
      result = await deps.runs.createRun(auth, record, [queued], claim, rate);
    } catch (error) {
      await releaseSlots(auth.tenant_id, runId);
      if (error instanceof RunTooLargeError) {
        // Refused before anything was written: a live claim still answers first.
        return refusedOrClaimed(
          auth,
          claim,
          at,
          new InvalidRequestError(
            'The run input is too large to store',
            [{ field: 'input', message: 'too large' }],
            {
              cause: error,
            },
          ),
        );
      }
      throw error;
    }
    if (result.outcome === 'rate_limited') {
      // The store found no live claim: the refusal stands.
      await releaseSlots(auth.tenant_id, runId);
      throw runRateRefusal(rate?.bucket.limit, result.rate);
    }
    if (result.outcome !== 'created') {
      // Another attempt with the same key won the claim: this run id was never stored.
      await releaseSlots(auth.tenant_id, runId);
      return replayOf(auth, result);
    }
    await publish(auth, result.events, result.run);
    if (claim === undefined) {
      try {
        await startFirstStep(auth, result.run, agent.step_timeout_seconds);
      } catch (cause) {
        // Without a key the client cannot resume this run, so it must not linger as queued.
        await releaseSlots(auth.tenant_id, runId);
        await deps.runs
          .commit(auth, runId, {
            requireStatus: statesLeadingTo('failed'),
            status: 'failed',
            changes: {
              error: { code: 'dependency_unavailable', message: 'The run could not be scheduled' },
              ended_at: deps.now().toISOString(),
            },
            events: [
              newEvent(eventIds.runTerminal(runId), 'run.failed', {
                status: 'failed',
                error: { code: 'dependency_unavailable', message: 'The run could not be scheduled' },
              }),
            ],
          })
          .then(
            async (failed) => {
              if (failed.appended > 0) await publish(auth, failed.events, failed.run);
            },
            (error: unknown) =>
              // The client gets the 503 either way; the run stays queued unscheduled, visibly.
              deps.reportFailure('could not fail a run that could not be scheduled', error, {
                run_id: runId,
              }),
          );
        throw new DependencyUnavailableError('The run could not be scheduled', {
          cause,
          details: { run_id: runId },
        });
      }
    } else {
      await scheduleFirstStep(auth, result.run, agent.step_timeout_seconds);
    }
    return {
      run: toRunView(result.run),
      replayed: false,
      ...(result.rate === undefined ? {} : { rateLimit: result.rate }),
    };
  }

  return {
    /**
     * Creates a run (or replays the one an idempotency key already created) and schedules its first
     * step. A new run takes one of the tenant's run creations and a queue slot (HLD §10.2); a replay
     * takes neither. `rateLimit` is the tenant's run-rate bucket after this run, for the
     * `RateLimit-*` headers.
     *
     * @throws RateLimitedError (`tenant_run_rate`, `tenant_queued_runs`, `node_concurrent_runs`)
     */
    async createRun(
      auth: AuthContext,
      body: CreateRunRequest,
      idempotencyKey: string | undefined,
      tenant?: Tenant,
    ): Promise<{ run: Run; replayed: boolean; rateLimit?: RateDecision }> {
      const now = deps.now();
      const claim =
        idempotencyKey === undefined
          ? undefined
          : {
              scopeHash: fingerprint([auth.tenant_id, auth.principal.id, body.agent_id, idempotencyKey]),
              requestHash: fingerprint(body),
              expiresAt: Math.floor(now.getTime() / 1000) + deps.idempotencyTtlSeconds,
            };
      const at = now.toISOString();
      // The claim is not read before the run is created: the creating write meets a live one
      // itself, which saves the common creation that read. A creation refused before that write
      // (its agent unknown, its queue or node full, a flood already known) reads it then.
      let admitted: { agent: AgentDefinition; runId: string };
      try {
        admitted = await admitNew(auth, body, tenant);
      } catch (error) {
        if (!(error instanceof NotFoundError || error instanceof RateLimitedError)) throw error;
        return refusedOrClaimed(auth, claim, at, error);
      }
      return storeNew(auth, body, claim, at, tenant, admitted);
    },

    async getRun(auth: AuthContext, runId: string): Promise<Run> {
      return toRunView(await load(auth, runId));
    },

    /**
     * Takes one of the tenant's run creations for a run created elsewhere than {@link createRun}
     * (a run forwarded to a peer, HLD §7.3), as a local run takes it (HLD §10.2). Nothing without a
     * tenant or limits.
     *
     * @throws RateLimitedError (`tenant_run_rate`)
     */
    async takeRunCreation(tenant: Tenant | undefined): Promise<RateDecision | undefined> {
      if (tenant === undefined || deps.limits === undefined) return undefined;
      refuseKnownFlood(deps.limits, tenant);
      return takeRunRate(deps.limits, tenant);
    },

    /**
     * Cancels a queued or running run. Canceling a canceled run is a no-op; a finished run cannot be
     * canceled. A `long` run's execution is stopped, so no further step runs; a step in flight
     * finds the run canceled and ends. The run's slots are given back and, given the caller's
     * `tenant`, its oldest waiting runs are woken at once (HLD §10.2). A run forwarded to a peer is
     * canceled here, then on the peer (HLD §7.3), each time it is canceled.
     */
    async cancelRun(auth: AuthContext, runId: string, tenant?: Tenant): Promise<Run> {
      const run = await load(auth, runId, scopes.runsWriteAll);
      const canceled = await cancelHere(auth, run, tenant);
      // Cancelling a forwarded run again sends its cancel to the peer again (HLD §7.3).
      return canceled.federation === undefined || deps.cancelForwarded === undefined
        ? canceled
        : deps.cancelForwarded(auth, canceled);
    },

    /**
     * A page of the tenant's runs, newest first: a member sees its own runs unless it holds
     * `runs:read:all` (HLD §5.2).
     */
    async listRuns(
      auth: AuthContext,
      query: { status?: RunStatus; limit: number; cursor?: string },
    ): Promise<{ runs: Run[]; nextCursor: string | null }> {
      const all = auth.scopes.includes(scopes.runsReadAll);
      const page = await deps.runs.listRuns(auth, {
        ...query,
        ...(all ? {} : { principalId: auth.principal.id }),
      });
      return { runs: page.runs.map(toRunView), nextCursor: page.nextCursor };
    },

    /** A page of a run's step records after step `after`; another member's or tenant's run is a 404. */
    async listSteps(auth: AuthContext, runId: string, after: number, limit: number): Promise<StepRecord[]> {
      await load(auth, runId);
      return deps.runs.listSteps(auth, runId, { after, limit });
    },

    /** A page of a run's events after `after`. */
    async listEvents(
      auth: AuthContext,
      runId: string,
      after: number,
      limit: number,
    ): Promise<{ events: RunEvent[]; run: RunRecord }> {
      const run = await load(auth, runId);
      const events = await deps.runs.listEvents(auth, runId, { after, limit });
      return { events, run };
    },
  };
}

export type RunService = ReturnType<typeof createRunService>;
