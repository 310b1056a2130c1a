import { scopes } from '../../shared/auth/auth-context.ts';
import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { FailureReporter } from '../../shared/observability/failure-reporter.ts';
import type { EventSinkPort } from '../ports/event-sink-port.ts';
import type { RunDriverPort } from '../ports/run-driver-port.ts';
import { RunStateConflictError } from '../ports/run-state-port.ts';
import type { RunRecord, RunStatePort } from '../ports/run-state-port.ts';
import { newEvent } from '../schemas/event.ts';
import type { RunStatus } from '../schemas/run.ts';
import { eventIds } from './event-ids.ts';
import { statesLeadingTo } from './run-state-machine.ts';
import type { RunStopPosition, RunStopTask } from './step-message.ts';

/** Which of a tenant's runs an operator stops: the given ids, or every run not yet over. */
export type RunSelection = { runIds: readonly string[] } | { all: true };

/** What a stop did to each run it was asked about. */
export type RunStopOutcome = {
  /** Runs this call ended `canceled`. */
  stopped: string[];
  /**
   * True when a stop of every run found more than one page of them: the rest are being stopped in
   * the background, page by page, by the step worker.
   */
  continuing: boolean;
  /** Runs that were already over (completed, failed or canceled), with their status. */
  alreadyOver: { runId: string; status: RunStatus }[];
  /** Ids that name no run of the tenant. */
  notFound: string[];
  /**
   * Runs that could not be stopped (storage unavailable for them): reported and audited as failed,
   * left as they were. A stop of every run goes on past them, so one run never holds up the rest.
   */
  failed: string[];
};

/** An operator's audit line: who stopped what, of which tenant, and why. */
export type StopAuditRecord = {
  operator: { tenant_id: string; principal_id: string };
  tenant_id: string;
  reason: string;
  stopped: string[];
  already_over: string[];
  not_found: string[];
  /** Runs whose stop failed; they were left as they were. */
  failed: string[];
};

/** What the run stopper needs from the world. */
export type RunStopperDeps = {
  runs: RunStatePort;
  /** Stops the executions that drive `long` runs (HLD §4.3). */
  driver?: RunDriverPort;
  sink: EventSinkPort;
  /** Logs and counts a failure that does not change the answer (the run is already canceled). */
  reportFailure: FailureReporter;
  now: () => Date;
  /**
   * Called once for each run this stopper ended, after its commit: frees what the run held (its
   * run slots). A failure is reported, not thrown; the slot's lease expires anyway.
   */
  onStopped?: (tenantId: string, runId: string) => Promise<void>;
  /**
   * Sends the cancel of a stopped run that was forwarded to a peer to that peer (HLD §7.3), so the
   * peer stops spending the tenant's budget there too; it reports its own failures.
   */
  cancelForwarded?: (auth: AuthContext, run: RunRecord) => Promise<void>;
  /** Writes the audit line of each stop (HLD §10.2 operator actions are audit-logged). */
  audit: (message: string, record: StopAuditRecord) => void;
  /**
   * Where the rest of a stop of every run of a tenant goes on, a page per task: the step queue.
   * Absent, one call stops them all (a process without a step queue).
   */
  continuation?: { enqueueRunStop(operator: AuthContext, task: RunStopTask): Promise<void> };
  /** Runs one call (a request, a background task) stops at most (default {@link stopPageSize}). */
  pageSize?: number;
};

/** Runs the stopper ends at once; more would crowd the table for one request. */
const stopConcurrency = 8;

/**
 * Runs one request (or one background task) stops at most when stopping all of a tenant's runs,
 * so it ends well within API Gateway's 29 s and a Lambda's timeout whatever the tenant runs.
 */
export const stopPageSize = 100;

/**
 * Listings one page reads at most: a page may take the last queued runs and the first running ones,
 * and a listing filtered by status may come back short, even empty, with a cursor.
 */
const maxListingsPerPage = 4;

function emptyOutcome(): RunStopOutcome {
  return { stopped: [], continuing: false, alreadyOver: [], notFound: [], failed: [] };
}

/** Where a stop of every run of a tenant starts: its queued runs, then its running ones. */
const firstPosition: RunStopPosition = { status: 'queued', cursor: null };

/**
 * The Auth Context an operator acts with on another tenant's runs: the target tenant, the operator
 * as principal, and the tenant-wide run scopes, so storage stays scoped by tenant (HLD §5.1).
 */
export function operatorActingFor(operator: AuthContext, tenantId: string): AuthContext {
  return {
    tenant_id: tenantId,
    principal: operator.principal,
    scopes: [scopes.runsRead, scopes.runsReadAll, scopes.runsWrite, scopes.runsWriteAll],
    policy_context: {},
  };
}

/**
 * The operator kill switch (HLD §10.2): ends a tenant's runs `canceled` with the operator's reason
 * and a `run.canceled` event (so their event streams end with it), stops a `long` run's Step
 * Functions execution, frees the run's slots through `onStopped`, and writes an audit line. A step
 * in flight finds the run canceled at its next commit and ends without committing.
 */
export function createRunStopper(deps: RunStopperDeps) {
  async function reported(what: string, runId: string, work: () => Promise<void>): Promise<void> {
    await work().catch((error: unknown) => deps.reportFailure(what, error, { run_id: runId }));
  }

  /**
   * A page of the tenant's queued, then running, runs from `from` created no later than
   * `createdBefore`, and where the next page starts (null once both are read). A stopped run leaves
   * its status, so a cursor read after a stop still finds the runs after it. Runs created after the
   * stop was asked are left alone: the running pass starts again from the newest run, and the
   * tenant may have been enabled again meanwhile (HLD §10.2).
   */
  async function unfinishedPage(
    auth: AuthContext,
    from: RunStopPosition,
    createdBefore: string | undefined,
  ): Promise<{ runIds: string[]; next: RunStopPosition | null }> {
    const cutoffMs = createdBefore === undefined ? Number.POSITIVE_INFINITY : Date.parse(createdBefore);
    const size = deps.pageSize ?? stopPageSize;
    const runIds: string[] = [];
    let position: RunStopPosition | null = from;
    for (let reads = 0; position !== null && runIds.length < size && reads < maxListingsPerPage; reads += 1) {
      const { status, cursor }: RunStopPosition = position;
      const page = await deps.runs.listRuns(auth, {
        status,
        limit: size - runIds.length,
        ...(cursor === null ? {} : { cursor }),
      });
      runIds.push(
        ...page.runs.filter((run) => Date.parse(run.created_at) <= cutoffMs).map((run) => run.run_id),
      );
      position =
        page.nextCursor !== null
          ? { status, cursor: page.nextCursor }
          : status === 'queued'
            ? { status: 'running', cursor: null }
            : null;
    }
    return { runIds, next: position };
  }

  /**
   * Stops `runIds` of `auth`'s tenant and audits what it did. A run that could not be stopped is
   * reported (logged and counted), audited as failed and named in `failed`, and the others are still
   * stopped; `errors` holds why, first failure first.
   */
  async function stopRuns(
    operator: AuthContext,
    auth: AuthContext,
    runIds: readonly string[],
    reason: string,
  ): Promise<{ outcome: RunStopOutcome; errors: unknown[] }> {
    const outcome = emptyOutcome();
    const errors: unknown[] = [];
    const forwarded: RunRecord[] = [];
    for (let start = 0; start < runIds.length; start += stopConcurrency) {
      const batch = runIds.slice(start, start + stopConcurrency);
      const results = await Promise.allSettled(batch.map((runId) => stopOne(auth, runId, reason)));
      results.forEach((settled, index) => {
        const runId = batch[index]!;
        if (settled.status === 'rejected') {
          outcome.failed.push(runId);
          errors.push(settled.reason);
          deps.reportFailure('run not stopped', settled.reason, { tenant_id: auth.tenant_id, run_id: runId });
          return;
        }
        const result = settled.value;
        if (result.kind === 'stopped') {
          outcome.stopped.push(runId);
          if (result.forwarded !== undefined) forwarded.push(result.forwarded);
        } else if (result.kind === 'over') outcome.alreadyOver.push({ runId, status: result.status });
        else outcome.notFound.push(runId);
      });
    }
    // The stopped runs that run on peers are canceled there, all at once: each cancel is bounded,
    // so the page still ends within its request (HLD §7.3, §10.2).
    const cancelForwarded = deps.cancelForwarded;
    if (cancelForwarded !== undefined)
      await Promise.all(
        forwarded.map((run) =>
          reported('stopped run not canceled on its peer', run.run_id, () => cancelForwarded(auth, run)),
        ),
      );
    // What was stopped is audited even when a run could not be (storage unavailable), and so is that.
    deps.audit('operator stopped runs', {
      operator: { tenant_id: operator.tenant_id, principal_id: operator.principal.id },
      tenant_id: auth.tenant_id,
      reason,
      stopped: outcome.stopped,
      already_over: outcome.alreadyOver.map((entry) => entry.runId),
      not_found: outcome.notFound,
      failed: outcome.failed,
    });
    return { outcome, errors };
  }

  /**
   * Stops one page of the tenant's unfinished runs from `from` and hands the next page to the step
   * queue; without one, goes on page by page itself. A run that cannot be stopped is named in
   * `failed` and the pages go on; only a page that cannot be read, or a next page that cannot be
   * handed on, throws (the step queue then brings the task back).
   */
  async function stopPages(
    operator: AuthContext,
    tenantId: string,
    reason: string,
    from: RunStopPosition,
    createdBefore: string | undefined,
  ): Promise<RunStopOutcome> {
    const auth = operatorActingFor(operator, tenantId);
    const total = emptyOutcome();
    let position: RunStopPosition | null = from;
    while (position !== null) {
      const page = await unfinishedPage(auth, position, createdBefore);
      const { outcome } = await stopRuns(operator, auth, page.runIds, reason);
      total.stopped.push(...outcome.stopped);
      total.alreadyOver.push(...outcome.alreadyOver);
      total.failed.push(...outcome.failed);
      position = page.next;
      if (position !== null && deps.continuation !== undefined) {
        // Handed over only once this page is stopped: a failure here is retried from the same page.
        await deps.continuation.enqueueRunStop(operator, {
          tenantId,
          reason,
          from: position,
          ...(createdBefore === undefined ? {} : { createdBefore }),
        });
        total.continuing = true;
        break;
      }
    }
    return total;
  }

  /** Ends one run; `over` with its status when it already was, `missing` when there is no such run. */
  async function stopOne(
    auth: AuthContext,
    runId: string,
    reason: string,
  ): Promise<
    { kind: 'stopped'; forwarded?: RunRecord } | { kind: 'over'; status: RunStatus } | { kind: 'missing' }
  > {
    const run = await deps.runs.getRun(auth, runId);
    if (run === undefined) return { kind: 'missing' };
    if (!statesLeadingTo('canceled').includes(run.status)) return { kind: 'over', status: run.status };
    let stopped: RunRecord;
    try {
      const result = await deps.runs.commit(auth, runId, {
        requireStatus: statesLeadingTo('canceled'),
        status: 'canceled',
        changes: { ended_at: deps.now().toISOString() },
        events: [newEvent(eventIds.runTerminal(runId), 'run.canceled', { status: 'canceled', reason })],
      });
      stopped = result.run;
      await reported('run events not published', runId, () =>
        deps.sink.publish(auth, result.events, result.run),
      );
    } catch (error) {
      if (error instanceof RunStateConflictError) return { kind: 'over', status: error.actual };
      throw error;
    }
    const executionArn = stopped.execution_arn;
    if (stopped.mode === 'long' && executionArn !== null && deps.driver !== undefined) {
      const driver = deps.driver;
      await reported('long run execution not stopped', runId, () =>
        driver.stop(executionArn, `canceled by operator: ${reason}`),
      );
    }
    if (deps.onStopped !== undefined) {
      const onStopped = deps.onStopped;
      await reported('stopped run not released', runId, () => onStopped(auth.tenant_id, runId));
    }
    return { kind: 'stopped', ...(stopped.federation === undefined ? {} : { forwarded: stopped }) };
  }

  return {
    /**
     * Stops the selected runs of `tenantId` for `operator` with `reason`. Runs already over are
     * reported as such and left unchanged; the call is safe to repeat. Stopping every run stops at
     * most a page of them here ({@link stopPageSize}) and, when more remain, hands the rest to the
     * step queue (`continuing`), where {@link continueStop} goes on page by page; runs created after
     * this call are left alone. A run that cannot be stopped is reported and named in `failed`; a stop
     * of every run goes on past it, a stop of named runs throws once the others are stopped.
     */
    async stop(
      operator: AuthContext,
      tenantId: string,
      selection: RunSelection,
      reason: string,
    ): Promise<RunStopOutcome> {
      if ('all' in selection)
        return stopPages(operator, tenantId, reason, firstPosition, deps.now().toISOString());
      const { outcome, errors } = await stopRuns(
        operator,
        operatorActingFor(operator, tenantId),
        [...new Set(selection.runIds)],
        reason,
      );
      // The operator named these runs: one left running is an error they see (and may repeat).
      if (errors.length > 0) throw errors[0];
      return outcome;
    },

    /**
     * Goes on with a stop of every run of `tenantId` from `from` (a step-queue task): stops a page
     * of the runs created no later than `createdBefore` (every run when absent) and hands the next
     * page on. Safe to repeat: a redelivered task finds its runs already over.
     */
    async continueStop(
      operator: AuthContext,
      tenantId: string,
      reason: string,
      from: RunStopPosition,
      createdBefore?: string,
    ): Promise<RunStopOutcome> {
      return stopPages(operator, tenantId, reason, from, createdBefore);
    },
  };
}

export type RunStopper = ReturnType<typeof createRunStopper>;
