import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { FailureReporter } from '../../shared/observability/failure-reporter.ts';
import { systemClock } from '../../shared/timing/clock.ts';
import type { Clock } from '../../shared/timing/clock.ts';
import type { AssistantMessage, ChatMessage } from '../../shared/contracts/chat.ts';
import type { ModelInvokeResponse } from '../../shared/contracts/model-invocation.ts';
import {
  AgentOsError,
  DependencyUnavailableError,
  RateLimitedError,
  RequestInProgressError,
} from '../../shared/errors/agentos-error.ts';
import type { AgentDefinition, AgentRegistryPort } from '../ports/agent-registry-port.ts';
import type { EventSinkPort } from '../ports/event-sink-port.ts';
import type { ModelPort } from '../ports/model-port.ts';
import type { QueuePort } from '../ports/queue-port.ts';
import type { RunDriverPort, StepContinuation } from '../ports/run-driver-port.ts';
import { RunMovedOnError, RunStateConflictError, RunTooLargeError } from '../ports/run-state-port.ts';
import type { CommitResult, RunCommit, RunRecord, RunStatePort } from '../ports/run-state-port.ts';
import type { ToolPort } from '../ports/tool-port.ts';
import { newEvent } from '../schemas/event.ts';
import type { NewEvent } from '../schemas/event.ts';
import type { RunError } from '../schemas/run.ts';
import type { StepRecord } from '../schemas/step.ts';
import { eventIds } from './event-ids.ts';
import { stepRecord } from './step-record.ts';
import type { StepTrace } from './step-record.ts';
import { isTerminal, statesLeadingTo } from './run-state-machine.ts';
import { createToolRunner } from './tool-runner.ts';
import type { ToolRunOutcome } from './tool-runner.ts';
import type { RateLimiterPort } from '../../shared/limits/limiter-port.ts';
import type { AdmissionPort } from '../../shared/tenancy/admission-port.ts';
import type { RunSlots } from './run-slots.ts';
import { createTenantToolGate } from './tool-gate.ts';
import { RunCache } from './run-cache.ts';

/**
 * The tenant limits a step honours (HLD §5.2, §10.2): its tenant's status and tool allow-list, the
 * tenant's and the node's run slots, the tenant's tool-call rate.
 */
export type StepLimits = {
  admission: Pick<AdmissionPort, 'tenant'>;
  slots: RunSlots;
  limiter: RateLimiterPort;
  /** Wait before a run waiting for a slot tries again the first time (default 5 s); doubles per attempt. */
  slotWaitSeconds?: number;
  /** Longest wait between two tries of a run waiting for a slot (default 60 s). */
  maxSlotWaitSeconds?: number;
};

/** How long a run waiting for a slot waits before its first retry. */
export const defaultSlotWaitSeconds = 5;

/** How long a run waiting for a slot waits at most between two retries. */
export const defaultMaxSlotWaitSeconds = 60;

/**
 * The wait before the `attempt`-th retry of a run waiting for a slot (HLD §10.2): `base`·2^(attempt-1),
 * at most `max`. A freed slot wakes the oldest waiting runs at once, so this redelivery is only the
 * safety net (a lost wake, a wait for the node's capacity) and backs off instead of polling.
 */
export function slotWaitSeconds(
  attempt: number,
  base: number = defaultSlotWaitSeconds,
  max: number = defaultMaxSlotWaitSeconds,
): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt) - 1), 30);
  return Math.max(1, Math.min(max, base * 2 ** exponent));
}

/** What the step engine needs from the world. */
export type StepEngineDeps = {
  runs: RunStatePort;
  queue: QueuePort;
  /** Stops the execution of a `long` run that timed out; absent where no run is long. */
  driver?: RunDriverPort;
  agents: AgentRegistryPort;
  models: ModelPort;
  tools: ToolPort;
  sink: EventSinkPort;
  now: () => Date;
  /** Measures tool calls and waits between their retries; `now` with real timers when absent. */
  clock?: Clock;
  /** Logs and counts a failure that does not change the step's outcome. */
  reportFailure: FailureReporter;
  /** Reports a problem that does not stop the step. */
  warn: (message: string, context: Record<string, unknown>) => void;
  /** Tenant limits; absent, steps run without them (tests of other concerns). */
  limits?: StepLimits;
  /**
   * How often a step re-reads its run while the model call is in flight (default
   * {@link defaultRunCheckMs}): a run canceled or stopped meanwhile aborts the call.
   */
  runCheckMs?: number;
  /**
   * What this process last committed to each run, so the run's next step here reads neither the
   * run nor its transcript again; a bounded one of its own when absent.
   */
  runCache?: RunCache;
};

/** How often a step in a model call checks whether its run was canceled or stopped meanwhile. */
export const defaultRunCheckMs = 2000;

/** One delivery of a step task. */
export type StepDelivery = {
  runId: string;
  step: number;
  attempt: number;
  maxAttempts: number;
  /** When the worker running the delivery must stop (epoch ms): caps the agent's step timeout. */
  deadlineMs?: number;
  /**
   * The step of the queue message this delivery runs under, when its worker may go on with the
   * run's next steps under the same message (HLD §4.3, chained steps): a `standard` step that
   * completes with a whole step timeout left before `deadlineMs` then queues no successor and says
   * so (`chained`), and the run records the message's step, so a redelivery of that message (its
   * worker stopped mid-chain) goes on with the run's next step. Absent: the successor is queued.
   */
  carrier?: number;
};

/**
 * `done`: the delivery can be acknowledged. `retry`: leave it for redelivery, after
 * `retryAfterSeconds` when the engine knows how long to wait (else the worker's backoff).
 * `continuation`: what the state machine of a `long` run does next (HLD §4.3); `end` once the
 * run is over, whether the step completed it or failed it, so the execution stops; absent, the
 * run is over too.
 */
export type StepOutcome = {
  status: 'done' | 'retry';
  reason: string;
  retryAfterSeconds?: number;
  /**
   * The retry only waits for another attempt's model-call claim to lapse: it is not a failed
   * attempt, so a long run's execution runs the same step again instead of spending a retry.
   */
  waitsForClaim?: boolean;
  /**
   * The run waits for a run slot of its tenant or the node, or for its tenant's model call rate
   * (HLD §10.2): not a failed attempt, and never a reason to give the run up however often it comes
   * back (the run's own timeout still ends it).
   */
  waitsForSlot?: boolean;
  continuation?: StepContinuation;
  /**
   * The run's next step (the continuation's) was not queued: the worker runs it under the same
   * message, as a delivery with the same `carrier`.
   */
  chained?: true;
};

/** What a step that completes hands on: its continuation, and whether its successor was left to the worker. */
type StepHandOn = StepContinuation & { chained?: true };

/**
 * Waits `ms` of wall time, or until `signal` aborts, without keeping the process alive. The watch of a
 * model call uses it rather than the injected clock: it paces reads during real I/O, and must not
 * move a test's manual time while the call hangs.
 */
function wallSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    timer.unref?.();
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Thrown inside the engine to stop a step because the run left the `running` state. */
class RunLeftRunning extends Error {}

/** Thrown inside the engine when a step started from the cached run finds the run moved on. */
class CachedRunStale extends Error {}

/** The continuation of a step after which the run is over: a long run's execution ends with it. */
const end: StepContinuation = { kind: 'end' };

/** The `queued -> running` transition a run's first step commits with its own first events. */
type RunStart = Required<Pick<RunCommit, 'requireStatus' | 'status' | 'changes' | 'events'>>;

/**
 * Writes a step's next commit carries for the commit before it (HLD §4.3): events and changes that
 * ride along, valid only while the run is still at `after` (no other delivery wrote meanwhile).
 */
type Carried = { events: NewEvent[]; changes?: RunCommit['changes']; after: number };

/** A model call ready to be made: what it sends, and the run as `step.started` left it. */
type PreparedModelCall = {
  requestId: string;
  messages: ChatMessage[];
  tools: Awaited<ReturnType<ToolPort['describe']>>;
  started: CommitResult;
};

function isRetryable(error: unknown): boolean {
  return (
    error instanceof DependencyUnavailableError ||
    error instanceof RateLimitedError ||
    error instanceof RequestInProgressError
  );
}

/**
 * A model call whose request id another attempt still holds, with the holder's lease end: the
 * holder may be a worker that died mid-call (a crashed node), so this is a wait, not a failed
 * attempt; the claim lapses at the lease and the redelivered step takes it over (HLD §10.1).
 */
function leaseRetry(error: unknown): StepOutcome | undefined {
  if (!(error instanceof RequestInProgressError)) return undefined;
  const seconds = error.details['retry_after_seconds'];
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) return undefined;
  return {
    status: 'retry',
    reason: 'request_in_progress',
    retryAfterSeconds: Math.ceil(seconds),
    waitsForClaim: true,
  };
}

/**
 * A model call the Model Policy refused because the run's tenant is over its own model call rate
 * (`tenant_model_request_rate`): the tenant's runs share that rate, so a busy tenant's runs wait
 * their turn for `Retry-After` instead of spending the agent's `on_model_error` attempts and failing
 * (HLD §10.2). Other rate limits (every backend throttled, ledger contention) are failed attempts.
 */
function quotaRetry(error: unknown): StepOutcome | undefined {
  if (!(error instanceof RateLimitedError) || error.details['limit'] !== 'tenant_model_request_rate') {
    return undefined;
  }
  const seconds = error.details['retry_after_seconds'];
  const wait = typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 ? seconds : 1;
  return { status: 'retry', reason: 'rate_limited', retryAfterSeconds: Math.ceil(wait), waitsForSlot: true };
}

/**
 * The agent's `on_model_error` for a failed model call (HLD §10.1): `retry` leaves a retryable
 * failure for redelivery after `backoff_ms`·2^(attempt-1), up to the smaller of the policy's and the
 * node's attempts; otherwise (and always under `abort`) undefined, and the run fails with the code.
 */
function modelRetry(
  policy: AgentDefinition['on_model_error'],
  error: unknown,
  delivery: StepDelivery,
): StepOutcome | undefined {
  if (policy.action !== 'retry' || !isRetryable(error)) return undefined;
  if (delivery.attempt >= Math.min(policy.max_attempts, delivery.maxAttempts)) return undefined;
  return {
    status: 'retry',
    reason: error instanceof AgentOsError ? error.code : 'retryable',
    retryAfterSeconds: Math.ceil((policy.backoff_ms * 2 ** (delivery.attempt - 1)) / 1000),
  };
}

function runErrorOf(error: unknown): RunError {
  if (error instanceof AgentOsError && error.code !== 'internal')
    return { code: error.code, message: error.message };
  return { code: 'internal', message: 'The step failed unexpectedly' };
}

/**
 * Executes run steps. A step calls the model once through the Model Policy, runs the tool calls it
 * asks for, and either finishes the run or schedules the next step. Every state change is a commit
 * whose events have deterministic ids, so a redelivered step replays stored results instead of
 * duplicating them.
 */
export function createStepEngine(deps: StepEngineDeps) {
  const clock: Clock = deps.clock ?? { now: () => deps.now().getTime(), sleep: systemClock.sleep };
  const runCache = deps.runCache ?? new RunCache();
  const toolRunner = createToolRunner({
    runs: deps.runs,
    tools: deps.tools,
    clock,
    commit,
    reportFailure: deps.reportFailure,
    ...(deps.limits === undefined
      ? {}
      : { gate: createTenantToolGate({ admission: deps.limits.admission, limiter: deps.limits.limiter }) }),
  });

  /**
   * Gives back the run's slots and, with `wake`, then wakes the oldest runs of its tenant waiting for
   * one (HLD §10.2). Only the delivery that ended the run (or found it canceled) wakes: a duplicate
   * delivery of a run already over only releases, else every duplicate would wake more runs, whose
   * duplicates would wake more still. A failure of either is reported, not thrown: the run is over
   * all the same, the leases expire on their own, and a run not woken comes back with its own
   * redelivery.
   */
  async function releaseSlots(
    auth: AuthContext,
    runId: string,
    wake: boolean,
    started = false,
  ): Promise<void> {
    const limits = deps.limits;
    if (limits === undefined) return;
    const queued = await limits.slots.release(auth.tenant_id, runId, { started }).catch((error: unknown) => {
      deps.reportFailure('run slots not released', error, { run_id: runId });
      return undefined;
    });
    if (!wake) return;
    try {
      const tenant = await limits.admission.tenant(auth.tenant_id);
      if (tenant === undefined || tenant.status === 'disabled') return;
      await limits.slots.wake(tenant, auth, { runs: deps.runs, queue: deps.queue }, queued);
    } catch (error) {
      deps.reportFailure('waiting run not woken', error, { run_id: runId, tenant_id: auth.tenant_id });
    }
  }

  /**
   * Re-reads the run every `runCheckMs` while its model call is in flight, and aborts the call once
   * the run is over (canceled by its owner, stopped by the operator's kill switch, timed out): the
   * step stops waiting for the model, asks the Model Policy to stop the call (which releases its
   * budget reservation: a buffered invoke behind API Gateway and Lambda never sees its caller go
   * away) and ends without writing (HLD §5.2, §5.3, §10.2). One cheap read per interval, only while
   * the call lasts; a failed read is reported and the watch goes on (the next read, or the commit
   * after the call, finds the run over all the same).
   */
  function watchRun(auth: AuthContext, runId: string, call: AbortController) {
    const stopped = new AbortController();
    let endedAs: string | undefined;
    const interval = deps.runCheckMs ?? defaultRunCheckMs;
    void (async () => {
      while (!stopped.signal.aborted) {
        await wallSleep(interval, stopped.signal);
        if (stopped.signal.aborted) return;
        const read =
          deps.runs.getRunStatus?.(auth, runId) ?? deps.runs.getRun(auth, runId).then((run) => run?.status);
        const status = await read.catch((error: unknown) => {
          deps.reportFailure('run not re-read during its model call', error, { run_id: runId });
          return undefined;
        });
        if (status !== undefined && isTerminal(status) && !stopped.signal.aborted) {
          endedAs = status;
          call.abort(new RunLeftRunning(status));
          return;
        }
      }
    })();
    return {
      stop: () => stopped.abort(),
      endedAs: () => endedAs,
    };
  }

  async function commit(auth: AuthContext, runId: string, change: RunCommit): Promise<CommitResult> {
    let result: CommitResult;
    try {
      result = await deps.runs.commit(auth, runId, change);
    } catch (error) {
      // Whatever came of it, the run may not be where this process believes.
      runCache.forget(auth.tenant_id, runId);
      if (error instanceof RunStateConflictError) throw new RunLeftRunning(error.actual);
      throw error;
    }
    runCache.committed(result.run, change);
    // Every terminal transition of a step gives the run's slots back (HLD §10.2).
    if (change.status !== undefined && isTerminal(change.status)) {
      // A run that ended from `running` gave its queue slot back when it started.
      const started = change.requireStatus.every((status) => status === 'running');
      await releaseSlots(auth, runId, true, started);
    }
    if (result.appended > 0) {
      // The store already holds the events; a failed publish is reported, not thrown.
      await deps.sink
        .publish(auth, result.events, result.run)
        .catch((error: unknown) => deps.reportFailure('run events not published', error, { run_id: runId }));
    }
    return result;
  }

  /** Fails the run; `trace` is the step that failed it, recorded with the same commit. */
  async function failRun(
    auth: AuthContext,
    run: RunRecord,
    error: RunError,
    trace?: StepTrace,
  ): Promise<void> {
    const endedAt = deps.now();
    await commit(auth, run.run_id, {
      requireStatus: statesLeadingTo('failed'),
      status: 'failed',
      changes: { error, ended_at: endedAt.toISOString() },
      events: [newEvent(eventIds.runTerminal(run.run_id), 'run.failed', { status: 'failed', error })],
      ...(trace === undefined ? {} : { step: stepRecord({ ...trace, endedAt, error }) }),
    });
  }

  /** The step record of a step that ends now, completed or failing the run with `error`. */
  function recordOf(trace: StepTrace, error: RunError | null = null): StepRecord {
    return stepRecord({ ...trace, endedAt: deps.now(), error });
  }

  /**
   * Prepares the model call of a step: the agent's instructions, the run's input and the newest
   * transcript messages within `max_context_bytes` (HLD §4.3), noted in `trace`, and the commit of
   * `step.started` (starting the run on its first step). Kept out of the model call's error
   * handling: a storage failure here is redelivered like any other, not counted against the
   * agent's `on_model_error` (HLD §10.1). `cached`: `run` is what this process last committed, so
   * `step.started` is stored only while the run is still there ({@link CachedRunStale} otherwise).
   */
  async function prepareModelCall(
    auth: AuthContext,
    run: RunRecord,
    agent: AgentDefinition,
    step: number,
    trace: StepTrace,
    starting: RunStart | undefined,
    cached: boolean,
  ): Promise<PreparedModelCall> {
    const requestId = `${run.run_id}/step-${step}`;
    const maxBytes = agent.max_context_bytes;
    // The run's counters say when nothing was appended yet (its first step): no read then; nor when
    // this process holds the tail at the run's transcript count (it wrote or read it).
    const transcript =
      run.transcript_messages === 0
        ? []
        : (runCache.transcript(run, maxBytes) ??
          (await deps.runs.readTranscript(auth, run.run_id, { maxBytes })));
    runCache.rememberTranscript(run, transcript, maxBytes);
    const messages: ChatMessage[] = [
      ...(agent.instructions === '' ? [] : [{ role: 'system' as const, content: agent.instructions }]),
      ...run.input.messages,
      ...transcript,
    ];
    trace.model = { requestId, modelRef: agent.model_ref, messages, durationMs: 0 };
    const startedChange: RunCommit = {
      requireStatus: starting?.requireStatus ?? ['running'],
      ...(cached ? { requireLastSequence: run.last_sequence } : {}),
      ...(starting === undefined ? {} : { status: starting.status, changes: starting.changes }),
      events: [
        ...(starting?.events ?? []),
        newEvent(eventIds.step(run.run_id, step, 'step.started'), 'step.started', { step }),
        newEvent(eventIds.step(run.run_id, step, 'model.requested'), 'model.requested', {
          step,
          request_id: requestId,
          model_ref: agent.model_ref,
          message_count: messages.length,
        }),
      ],
    };
    let started: CommitResult;
    try {
      started = await commit(auth, run.run_id, startedChange);
    } catch (error) {
      if (cached && error instanceof RunMovedOnError) throw new CachedRunStale();
      throw error;
    }
    const tools = await deps.tools.describe(auth, agent.tool_ids);
    return { requestId, messages, tools, started };
  }

  /** Calls the model as prepared; what it got is noted in `trace`. */
  async function callModel(
    auth: AuthContext,
    run: RunRecord,
    agent: AgentDefinition,
    step: number,
    trace: StepTrace,
    prepared: PreparedModelCall,
  ): Promise<ModelInvokeResponse> {
    const { requestId, messages, tools } = prepared;
    const calledAt = Date.now();
    const call = new AbortController();
    const watch = watchRun(auth, run.run_id, call);
    let response: ModelInvokeResponse;
    try {
      response = await deps.models.invoke(
        auth,
        agent.model_ref,
        {
          request_id: requestId,
          messages,
          ...(tools.length > 0 ? { tools } : {}),
          max_tokens: agent.max_tokens_per_step,
          attribution: { run_id: run.run_id, step },
        },
        { signal: call.signal },
      );
    } catch (error) {
      // Aborted because the run ended meanwhile: the step ends without writing, whatever the call threw.
      if (call.signal.aborted) {
        // The Model Policy cannot see a buffered caller leave: ask it to stop the call, so the call's
        // budget reservation is released now rather than at its deadline (HLD §5.3).
        await deps.models.abort?.(auth, requestId).catch((abortError: unknown) =>
          deps.reportFailure('model call not asked to stop', abortError, {
            run_id: run.run_id,
            request_id: requestId,
          }),
        );
        throw new RunLeftRunning(watch.endedAs() ?? 'ended');
      }
      throw error;
    } finally {
      watch.stop();
    }
    trace.model.durationMs = Date.now() - calledAt;
    trace.model.response = response;
    return response;
  }

  /** The writes that store the model's answer: its fallbacks, `model.completed` and the usage. */
  function modelAnswer(
    run: RunRecord,
    step: number,
    prepared: PreparedModelCall,
    response: ModelInvokeResponse,
  ): Carried {
    const { requestId, started } = prepared;
    const fallbacks = response.route.hops
      .filter((hop) => hop.outcome === 'fallback')
      .map((hop, index) =>
        newEvent(eventIds.step(run.run_id, step, `model.fallback.${index}`), 'model.fallback', {
          step,
          request_id: requestId,
          provider: hop.provider,
          model: hop.model,
          reason: hop.reason ?? 'unknown',
          ...(hop.status === undefined ? {} : { status: hop.status }),
        }),
      );
    return {
      after: started.run.last_sequence,
      changes: {
        usage: {
          prompt_tokens: started.run.usage.prompt_tokens + response.usage.prompt_tokens,
          completion_tokens: started.run.usage.completion_tokens + response.usage.completion_tokens,
          cost_usd: started.run.usage.cost_usd + response.usage.cost_usd,
        },
      },
      events: [
        ...fallbacks,
        newEvent(eventIds.step(run.run_id, step, 'model.completed'), 'model.completed', {
          step,
          request_id: requestId,
          message: response.output.message,
          finish_reason: response.output.finish_reason,
          usage: response.usage,
          route: response.route,
          policy: response.policy,
        }),
      ],
    };
  }

  /**
   * Commits the model's answer, with `joined` (the first tool call's request) when given. Kept out
   * of the model call's error handling like {@link prepareModelCall}: a storage failure here
   * redelivers the step, whose model call the Model Policy replays by its request id. `fresh`: the
   * commit was the run's next write, so nothing of the step's tool calls is stored yet.
   */
  async function recordModelAnswer(
    auth: AuthContext,
    run: RunRecord,
    step: number,
    prepared: PreparedModelCall,
    response: ModelInvokeResponse,
    joined?: NewEvent,
  ): Promise<{ response: ModelInvokeResponse; run: RunRecord; fresh: boolean }> {
    const answer = modelAnswer(run, step, prepared, response);
    if (joined !== undefined) {
      try {
        const both = await commit(auth, run.run_id, {
          requireStatus: ['running'],
          requireLastSequence: answer.after,
          ...(answer.changes === undefined ? {} : { changes: answer.changes }),
          events: [...answer.events, joined],
        });
        return { response, run: both.run, fresh: true };
      } catch (error) {
        // Another delivery of this step wrote meanwhile: its answer may be stored, and wins.
        if (!(error instanceof RunMovedOnError)) throw error;
      }
    }
    const completed = await commit(auth, run.run_id, {
      requireStatus: ['running'],
      ...(answer.changes === undefined ? {} : { changes: answer.changes }),
      events: answer.events,
    });
    // On redelivery the stored event wins, so the transcript matches what was already streamed.
    const stored = completed.events.at(-1);
    const message = (stored?.data['message'] as AssistantMessage | undefined) ?? response.output.message;
    return {
      response: { ...response, output: { ...response.output, message } },
      run: completed.run,
      fresh: false,
    };
  }

  async function runTools(
    auth: AuthContext,
    run: RunRecord,
    agent: AgentDefinition,
    step: number,
    message: AssistantMessage,
    deadlineMs: number,
    fresh: boolean,
  ): Promise<ToolRunOutcome> {
    return toolRunner.run({ auth, run, agent, step, message, deadlineMs, fresh, deferLast: true });
  }

  /**
   * Commits `change` with what `carried` brings (its events first), applying only while the run is
   * at `carried.after`. When another delivery of the step wrote meanwhile, `fallback` decides: it
   * stores the carried writes on their own and answers the change to commit after them, or is absent
   * and the step is redone by a redelivery (HLD §10.1), which replays what was stored.
   */
  async function commitCarrying(
    auth: AuthContext,
    runId: string,
    change: RunCommit,
    carried: Carried | undefined,
    fallback?: () => Promise<RunCommit | 'redo'>,
  ): Promise<CommitResult | 'redo'> {
    if (carried === undefined) return commit(auth, runId, change);
    try {
      return await commit(auth, runId, {
        ...change,
        requireLastSequence: carried.after,
        changes: { ...carried.changes, ...change.changes },
        events: [...carried.events, ...change.events],
      });
    } catch (error) {
      if (!(error instanceof RunMovedOnError)) throw error;
    }
    const after = fallback === undefined ? 'redo' : await fallback();
    return after === 'redo' ? 'redo' : commit(auth, runId, after);
  }

  async function finishStep(
    auth: AuthContext,
    run: RunRecord,
    agent: AgentDefinition,
    step: number,
    response: ModelInvokeResponse,
    toolMessages: ChatMessage[],
    trace: StepTrace,
    suspendSeconds: number,
    carried: { writes: Carried; fallback?: () => Promise<ModelInvokeResponse> } | undefined,
    chain: { carrier: number; deadlineMs: number } | undefined,
  ): Promise<StepHandOn | 'redo'> {
    const message = response.output.message;
    // The step's messages join the transcript's own items with the commit that completes the step.
    const transcript = {
      appendTranscript: [message, ...toolMessages],
      maxTranscriptBytes: agent.max_transcript_bytes,
    };
    const stepDone = newEvent(eventIds.step(run.run_id, step, 'step.completed'), 'step.completed', {
      step,
      finish_reason: response.output.finish_reason,
    });
    const wantsTools = (message.tool_calls ?? []).length > 0;
    if (!wantsTools) {
      const completion = (final: AssistantMessage): RunCommit => {
        const output = { message: final };
        return {
          requireStatus: ['running'],
          status: 'completed',
          changes: { steps_completed: step, output, ended_at: deps.now().toISOString() },
          appendTranscript: [final, ...toolMessages],
          maxTranscriptBytes: agent.max_transcript_bytes,
          step: recordOf(trace),
          events: [
            stepDone,
            newEvent(eventIds.runTerminal(run.run_id), 'run.completed', { status: 'completed', output }),
          ],
        };
      };
      const fallback = carried?.fallback;
      const done = await commitCarrying(
        auth,
        run.run_id,
        completion(message),
        carried?.writes,
        fallback === undefined
          ? undefined
          : async () => {
              // The answer another delivery stored wins; one asking for tools is taken up by a redelivery.
              const stored = (await fallback()).output.message;
              return (stored.tool_calls ?? []).length > 0 ? 'redo' : completion(stored);
            },
      );
      return done === 'redo' ? 'redo' : { kind: 'end' };
    }
    if (step >= agent.max_steps) {
      const error = {
        code: 'max_steps_exceeded',
        message: `The agent did not finish within ${agent.max_steps} steps`,
      };
      const failed = await commitCarrying(
        auth,
        run.run_id,
        {
          requireStatus: ['running'],
          status: 'failed',
          changes: { steps_completed: step, error, ended_at: deps.now().toISOString() },
          ...transcript,
          step: recordOf(trace, error),
          events: [
            stepDone,
            newEvent(eventIds.runTerminal(run.run_id), 'run.failed', { status: 'failed', error }),
          ],
        },
        carried?.writes,
      );
      return failed === 'redo' ? 'redo' : { kind: 'end' };
    }
    // The worker goes on with the next step itself while a whole step still fits before it must stop.
    const chained =
      chain !== undefined &&
      run.mode === 'standard' &&
      suspendSeconds === 0 &&
      chain.deadlineMs - clock.now() >= agent.step_timeout_seconds * 1000;
    const done = await commitCarrying(
      auth,
      run.run_id,
      {
        requireStatus: ['running'],
        changes: {
          steps_completed: step,
          // Which message carries the run on. A chain that ends by queueing its successor keeps it,
          // so that if the send fails (or the worker stops before it) the carrier's redelivery goes
          // on with the run; the successor's own delivery clears it.
          ...(chained
            ? { chain_step: chain.carrier }
            : run.chain_step == null || run.chain_step === chain?.carrier
              ? {}
              : { chain_step: null }),
        },
        ...transcript,
        step: recordOf(trace),
        events: [stepDone],
      },
      carried?.writes,
    );
    if (done === 'redo') return 'redo';
    const next: StepContinuation = { kind: 'next', step: step + 1, waitSeconds: suspendSeconds };
    // A long run's state machine runs the next step; it is not enqueued.
    if (run.mode === 'long') return next;
    // Only the delivery that completed the step schedules the next one, so duplicates do not multiply.
    if (done.appended === 0) return next;
    if (chained) return { ...next, chained: true };
    await deps.queue.enqueueStep(auth, { runId: run.run_id, step: step + 1 });
    if (chain !== undefined && done.run.chain_step === chain.carrier) await releaseChain(auth, done.run);
    return next;
  }

  /**
   * The run's next step went to the queue as a message of its own: the message that carried the
   * run no longer does, so its redelivery (a duplicate, or a batch brought back whole) runs nothing
   * beside that step's own delivery. Guarded by the run's sequence: once the successor started,
   * its own commits say which message carries the run. A failure is reported: the carrier's
   * redelivery would then only run the successor twice, which the engine tolerates.
   */
  async function releaseChain(auth: AuthContext, run: RunRecord): Promise<void> {
    await commit(auth, run.run_id, {
      requireStatus: ['running'],
      requireLastSequence: run.last_sequence,
      changes: { chain_step: null },
      events: [],
    }).catch((error: unknown) => {
      if (error instanceof RunMovedOnError || error instanceof RunLeftRunning) return;
      deps.reportFailure('run chain not released', error, { run_id: run.run_id });
    });
  }

  /**
   * A duplicate of a finished step re-schedules its successor only if the run has not moved since
   * that step completed: the enqueue after the completing commit may have failed.
   */
  async function rescheduleIfStalled(
    auth: AuthContext,
    run: RunRecord,
    step: number,
  ): Promise<StepContinuation | undefined> {
    if (step !== run.steps_completed) return undefined;
    // A long run's step answered again (its first answer was lost): the state machine goes on. A
    // wait the lost answer asked for is not repeated.
    if (run.mode === 'long') return { kind: 'next', step: step + 1, waitSeconds: 0 };
    const [last] = await deps.runs.listEvents(auth, run.run_id, { after: run.last_sequence - 1, limit: 1 });
    if (last?.type === 'step.completed' && last.data['step'] === step) {
      await deps.queue.enqueueStep(auth, { runId: run.run_id, step: step + 1 });
    }
    return undefined;
  }

  /**
   * Whether the step may run under its tenant's limits (HLD §5.2, §10.2): a disabled (or unknown)
   * tenant's run is canceled with the reason; otherwise the run takes (or renews) its tenant and
   * node slots for the step, and waits, saying why in `status_reason`, while either is full.
   * `refused`: the step does not go on, with this outcome; otherwise it goes on with `run`, the run as
   * stored now (its `status_reason` may have just been written).
   */
  async function admitStep(
    auth: AuthContext,
    run: RunRecord,
    agent: AgentDefinition,
    attempt: number,
  ): Promise<{ refused: StepOutcome } | { run: RunRecord }> {
    const limits = deps.limits;
    if (limits === undefined) return { run };
    const tenant = await limits.admission.tenant(run.tenant_id);
    if (tenant === undefined || tenant.status === 'disabled') {
      const why =
        tenant === undefined ? 'the tenant is not registered' : (tenant.disabled_reason ?? 'no reason given');
      const reason = `tenant disabled: ${why}`;
      await commit(auth, run.run_id, {
        requireStatus: statesLeadingTo('canceled'),
        status: 'canceled',
        changes: { ended_at: deps.now().toISOString() },
        events: [newEvent(eventIds.runTerminal(run.run_id), 'run.canceled', { status: 'canceled', reason })],
      });
      return { refused: { status: 'done', reason: 'tenant disabled', continuation: end } };
    }
    const take = () =>
      run.status === 'queued'
        ? limits.slots.acquire(tenant, run.run_id, agent.step_timeout_seconds)
        : limits.slots.renew(tenant, run.run_id, agent.step_timeout_seconds);
    let grant = await take();
    if (grant.acquired) {
      // A running run that waited again (its slot lapsed and was taken) says it no longer waits.
      if (run.status === 'running' && run.status_reason != null) {
        await commit(auth, run.run_id, {
          requireStatus: ['running'],
          changes: { status_reason: null },
          events: [],
        });
      }
      return { run };
    }
    let stored = run.status_reason ?? null;
    if (stored !== grant.reason) {
      await commit(auth, run.run_id, {
        requireStatus: [run.status],
        changes: { status_reason: grant.reason },
        events: [],
      });
      stored = grant.reason;
      // A release only wakes runs whose reason it reads: one that came between the refusal and
      // this write saw none, so the slot it freed is looked for once more now.
      grant = await take();
      if (grant.acquired) {
        // A queued run's start clears the reason in its own commit; a running run has none.
        if (run.status === 'queued') return { run: { ...run, status_reason: stored } };
        await commit(auth, run.run_id, {
          requireStatus: [run.status],
          changes: { status_reason: null },
          events: [],
        });
        return { run: { ...run, status_reason: null } };
      }
      if (grant.reason !== stored) {
        await commit(auth, run.run_id, {
          requireStatus: [run.status],
          changes: { status_reason: grant.reason },
          events: [],
        });
      }
    }
    const wait = slotWaitSeconds(
      attempt,
      limits.slotWaitSeconds ?? defaultSlotWaitSeconds,
      limits.maxSlotWaitSeconds ?? defaultMaxSlotWaitSeconds,
    );
    return {
      refused: {
        status: 'retry',
        reason: grant.reason,
        retryAfterSeconds: Math.max(1, Math.min(wait, Math.ceil(grant.retryAfterSeconds))),
        waitsForSlot: true,
      },
    };
  }

  /**
   * What starting a queued run adds to the step's first commit (HLD §4.3 `queued -> running`): the
   * transition rides on the commit that stores `step.started`, one write instead of two. Undefined
   * for a run already running.
   */
  async function start(
    auth: AuthContext,
    run: RunRecord,
    agent: AgentDefinition,
  ): Promise<RunStart | undefined> {
    if (run.status !== 'queued') return undefined;
    // Scheduled before the run starts so that a started run always has a deadline; scheduling twice is harmless.
    await deps.queue
      .scheduleDeadline(auth, { runId: run.run_id, afterSeconds: agent.timeout_seconds })
      .catch((error: unknown) =>
        deps.reportFailure('run deadline not scheduled', error, { run_id: run.run_id }),
      );
    return {
      requireStatus: ['queued'],
      status: 'running',
      changes: {
        started_at: deps.now().toISOString(),
        ...(run.status_reason == null ? {} : { status_reason: null }),
      },
      events: [newEvent(eventIds.runStarted(run.run_id), 'run.started', { status: 'running' })],
    };
  }

  /**
   * One delivery of a step task. `useCache`: the run may come from what this process last committed
   * to it (no read); a step that then finds the run moved on starts again from the stored run.
   */
  async function executeStep(
    auth: AuthContext,
    delivery: StepDelivery,
    useCache: boolean,
  ): Promise<StepOutcome> {
    const { step } = delivery;
    const deliveryStarted = clock.now();
    const remembered = useCache ? runCache.runBefore(auth.tenant_id, delivery.runId, step) : undefined;
    const run = remembered ?? (await deps.runs.getRun(auth, delivery.runId));
    if (run === undefined) return { status: 'done', reason: 'run not found', continuation: end };
    if (isTerminal(run.status)) {
      // Whoever ended it may have died before giving its slots back.
      await releaseSlots(auth, run.run_id, false);
      return { status: 'done', reason: `run is ${run.status}`, continuation: end };
    }
    if (step <= run.steps_completed) {
      if (delivery.carrier !== undefined && run.chain_step === delivery.carrier && run.mode === 'standard') {
        // This message carried the run past its step and is back: the worker that carried it
        // stopped mid-chain, or before the successor it meant to queue went out. It goes on with
        // the run's next step (a successor that did go out is a duplicate the engine tolerates).
        return executeStep(auth, { ...delivery, step: run.steps_completed + 1 }, false);
      }
      const continuation = await rescheduleIfStalled(auth, run, step);
      return { status: 'done', reason: 'step already completed', ...(continuation && { continuation }) };
    }
    if (step > run.steps_completed + 1) return { status: 'done', reason: 'step is ahead of the run' };
    let trace: StepTrace | undefined;
    try {
      // The version the run started with: later versions or a deleted agent do not change a run.
      const agent = await deps.agents.getVersion(auth, run.agent_id, run.agent_version);
      if (agent === undefined) {
        await failRun(auth, run, {
          code: 'not_found',
          message: `Agent ${run.agent_id} version ${run.agent_version} no longer exists`,
        });
        return { status: 'done', reason: 'agent missing', continuation: end };
      }
      const admission = await admitStep(auth, run, agent, delivery.attempt);
      if ('refused' in admission) return admission.refused;
      const starting = await start(auth, admission.run, agent);
      const startedAt = deps.now();
      trace = {
        runId: run.run_id,
        step,
        deliveries: delivery.attempt,
        startedAt,
        endedAt: startedAt,
        model: {
          requestId: `${run.run_id}/step-${step}`,
          modelRef: agent.model_ref,
          messages: [],
          durationMs: 0,
        },
        toolCalls: [],
        error: null,
      };
      const prepared = await prepareModelCall(
        auth,
        run,
        agent,
        step,
        trace,
        starting,
        remembered !== undefined,
      );
      let response: ModelInvokeResponse;
      try {
        response = await callModel(auth, run, agent, step, trace, prepared);
      } catch (error) {
        if (error instanceof RunLeftRunning || error instanceof RunTooLargeError) throw error;
        const lease = leaseRetry(error) ?? quotaRetry(error);
        if (lease !== undefined) return lease;
        const retry = modelRetry(agent.on_model_error, error, delivery);
        if (retry !== undefined) return retry;
        await failRun(auth, run, runErrorOf(error), trace);
        return { status: 'done', reason: 'model call failed', continuation: end };
      }
      // This delivery stored the step's start, so nothing of the step after it is stored yet: its
      // next writes may ride on one commit, guarded by the run's sequence (HLD §4.3). A redelivery
      // stores them one by one, and what was stored before wins.
      const firstDelivery = prepared.started.appended > 0;
      const answered = response.output.message;
      const chain =
        delivery.carrier === undefined || delivery.deadlineMs === undefined
          ? undefined
          : { carrier: delivery.carrier, deadlineMs: delivery.deadlineMs };
      let continuation: StepHandOn | 'redo';
      if (firstDelivery && (answered.tool_calls ?? []).length === 0) {
        // A final answer is stored with the run's completion, one write for both.
        continuation = await finishStep(
          auth,
          prepared.started.run,
          agent,
          step,
          response,
          [],
          trace,
          0,
          {
            writes: modelAnswer(run, step, prepared, response),
            fallback: async () => (await recordModelAnswer(auth, run, step, prepared, response)).response,
          },
          chain,
        );
      } else {
        // An answer asking for tools is stored with the first call's request.
        const joined = firstDelivery ? toolRunner.firstRequested(run.run_id, step, answered) : undefined;
        const model = await recordModelAnswer(auth, run, step, prepared, response, joined);
        // The agent's step timeout, but never past the worker's own end: a worker stopped mid-step
        // would leave its tool calls to be made again by the next delivery.
        const deadlineMs = Math.min(
          deliveryStarted + agent.step_timeout_seconds * 1000,
          delivery.deadlineMs ?? Number.POSITIVE_INFINITY,
        );
        const message = model.response.output.message;
        const tools = await runTools(auth, model.run, agent, step, message, deadlineMs, model.fresh);
        trace.toolCalls = tools.calls;
        if (tools.abort !== undefined) {
          await failRun(auth, tools.run, tools.abort, trace);
          return { status: 'done', reason: 'tool policy aborted the run', continuation: end };
        }
        continuation = await finishStep(
          auth,
          tools.run,
          agent,
          step,
          model.response,
          tools.messages,
          trace,
          tools.suspendSeconds,
          tools.pending === undefined
            ? undefined
            : { writes: { events: tools.pending, after: tools.run.last_sequence } },
          chain,
        );
      }
      if (continuation === 'redo') {
        // Another delivery of this step wrote meanwhile. When it completed the step, this one is
        // a duplicate and done; else it is redone from what is stored, at once (its tool calls
        // replay; a call not stored is made again with its key).
        const now = await deps.runs.getRun(auth, run.run_id);
        if (now !== undefined && (isTerminal(now.status) || now.steps_completed >= step)) {
          const after = isTerminal(now.status) ? end : await rescheduleIfStalled(auth, now, step);
          return {
            status: 'done',
            reason: 'step completed by another delivery',
            ...(after && { continuation: after }),
          };
        }
        return { status: 'retry', reason: 'step stored meanwhile', retryAfterSeconds: 0 };
      }
      const { chained, ...handedOn } = continuation;
      return {
        status: 'done',
        reason: 'step completed',
        continuation: handedOn,
        ...(chained && { chained }),
      };
    } catch (error) {
      // Another process wrote since this one last committed: start again from what is stored.
      if (error instanceof CachedRunStale) return executeStep(auth, delivery, false);
      if (error instanceof RunLeftRunning) {
        // Ended elsewhere (canceled, timed out) perhaps after this step took its slots. A run
        // canceled wakes the next one here: an operator's stop only releases, and after an API
        // cancel (which wakes too) a second wake is harmless; one completed or failed by another
        // delivery of this step already woke. A run another delivery started is still going, and
        // keeps the slots that delivery holds for it.
        const live = error.message === 'running' || error.message === 'queued';
        if (!live) await releaseSlots(auth, delivery.runId, error.message === 'canceled');
        return { status: 'done', reason: `run left running (${error.message})`, continuation: end };
      }
      if (error instanceof RunTooLargeError) {
        try {
          await failRun(
            auth,
            run,
            {
              code: 'run_too_large',
              message: `The run would take ${error.bytes} bytes, past its ${error.limitName} of ${error.limit} bytes`,
            },
            trace,
          );
        } catch (failure) {
          // Canceled (or ended) meanwhile: the run is over all the same.
          if (!(failure instanceof RunLeftRunning)) throw failure;
        }
        return { status: 'done', reason: 'run too large', continuation: end };
      }
      throw error;
    }
  }

  return {
    /** Fails the run with `run_timeout` if it is still going when its deadline task arrives. */
    async expire(auth: AuthContext, runId: string): Promise<StepOutcome> {
      const run = await deps.runs.getRun(auth, runId);
      if (run === undefined || isTerminal(run.status)) return { status: 'done', reason: 'run already over' };
      const agent = await deps.agents.getVersion(auth, run.agent_id, run.agent_version);
      const limit = agent === undefined ? 'its' : `its ${agent.timeout_seconds} s`;
      try {
        await failRun(auth, run, {
          code: 'run_timeout',
          message: `The run did not finish within ${limit} timeout`,
        });
      } catch (error) {
        if (error instanceof RunLeftRunning) return { status: 'done', reason: 'run already over' };
        throw error;
      }
      // A long run's execution may be waiting (a step task, a pause): no further step should run.
      if (run.mode === 'long' && run.execution_arn !== null && deps.driver !== undefined) {
        await deps.driver
          .stop(run.execution_arn, 'run_timeout')
          .catch((error: unknown) =>
            deps.reportFailure('long run execution not stopped', error, { run_id: runId }),
          );
      }
      return { status: 'done', reason: 'run timed out' };
    },

    /**
     * Fails a run that cannot go on, with the reason: a long run whose step failed on every attempt,
     * or a run named by a step message that is not valid (HLD §10.1). A run already over is left alone.
     */
    async fail(auth: AuthContext, runId: string, error: RunError): Promise<void> {
      const run = await deps.runs.getRun(auth, runId);
      if (run === undefined || isTerminal(run.status)) return;
      try {
        await failRun(auth, run, error);
      } catch (failure) {
        if (!(failure instanceof RunLeftRunning)) throw failure;
      }
    },

    /**
     * Fails a run whose task failed on its last delivery before the dead-letter queue, with the
     * reason, so the run does not stay `running` (HLD §10.1). A run already over is left alone.
     */
    async abandon(auth: AuthContext, runId: string, attempts: number, error: unknown): Promise<void> {
      const run = await deps.runs.getRun(auth, runId);
      if (run === undefined || isTerminal(run.status)) return;
      const cause = runErrorOf(error);
      try {
        await failRun(auth, run, {
          code: cause.code,
          message: `The step failed on all ${attempts} deliveries: ${cause.message}`,
        });
      } catch (failure) {
        if (!(failure instanceof RunLeftRunning)) throw failure;
      }
    },

    /**
     * Hands a step to the queue afresh: a step that waited for a slot on as many deliveries as the
     * queue allows comes back as a new message instead of reaching the dead-letter queue, and a
     * chained step to try again comes back as a message of its own, after `delaySeconds`, counting
     * the `triedBefore` tries it already had.
     */
    async resend(
      auth: AuthContext,
      runId: string,
      step: number,
      options: { delaySeconds?: number; triedBefore?: number; carrier?: number } = {},
    ): Promise<void> {
      const { carrier, ...task } = options;
      await deps.queue.enqueueStep(auth, { runId, step, ...task });
      if (carrier === undefined) return;
      // Handed on by a chain: its carrier no longer carries the run.
      const run = await deps.runs.getRun(auth, runId).catch((error: unknown) => {
        deps.reportFailure('run chain not released', error, { run_id: runId });
        return undefined;
      });
      if (run !== undefined && run.chain_step === carrier && run.status === 'running')
        await releaseChain(auth, run);
    },

    /** Executes one delivery of a step task. Throws only for failures that should be retried by redelivery. */
    async execute(auth: AuthContext, delivery: StepDelivery): Promise<StepOutcome> {
      return executeStep(auth, delivery, true);
    },
  };
}

export type StepEngine = ReturnType<typeof createStepEngine>;
