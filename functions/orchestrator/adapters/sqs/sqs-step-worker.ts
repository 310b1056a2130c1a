import { AgentOsError, DependencyUnavailableError } from '../../../shared/errors/agentos-error.ts';
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import {
  continueTrace,
  outgoingTraceparent,
  runInTrace,
  traceparentHeader,
} from '../../../shared/observability/trace-context.ts';
import { exportSpan } from '../../../shared/observability/otlp-tracing.ts';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { createFailureReporter } from '../../../shared/observability/failure-reporter.ts';
import type { FailureReporter } from '../../../shared/observability/failure-reporter.ts';
import type { Telemetry } from '../../../shared/observability/telemetry.ts';
import type { RunDriverPort, StepContinuation, TaskAnswer } from '../../ports/run-driver-port.ts';
import type { StepAgePort } from '../../ports/step-age-port.ts';
import type { RunError } from '../../schemas/run.ts';
import type { StepEngine, StepOutcome } from '../../runtime/step-engine.ts';
import type { RunStopper } from '../../runtime/run-stopper.ts';
import { IdentifiableRunSchema, StepMessageSchema, stepTaskErrors } from '../../runtime/step-message.ts';
import type { StepMessage } from '../../runtime/step-message.ts';

type LongStep = Extract<StepMessage, { kind: 'run.step' }> & { task_token: string };

/** A task about one run: a step, a deadline, a long run's failure. */
type RunTask = Exclude<StepMessage, { kind: 'runs.stop' }>;

/** The cause a failed step task carries, so the run can fail with the step's own error code. */
function taskCause(error: RunError): string {
  return JSON.stringify(error);
}

/**
 * The run error of a long run whose step failed on every attempt, from the state machine's
 * `run.fail` task: a heartbeat or step timeout, or the step's last error.
 */

/** The tenant and run a step message names, as span attributes (HLD §9.1); none when it does not parse. */
function stepSpanAttributes(record: SQSRecord): Record<string, string> {
  const tenantId = record.messageAttributes?.['tenant_id']?.stringValue;
  let runId: unknown;
  try {
    runId = (JSON.parse(record.body) as { run_id?: unknown }).run_id;
  } catch {
    runId = undefined;
  }
  return {
    ...(tenantId === undefined ? {} : { 'agentos.tenant_id': tenantId }),
    ...(typeof runId === 'string' ? { 'agentos.run_id': runId } : {}),
  };
}

/**
 * Annotates the invocation's X-Ray segment with the tenant and run its batch works for (HLD §9.1),
 * each only when every record names the same one: an annotation holds one value, and a batch of
 * several runs is found by the runs' own trace ids instead. A no-op with tracing off.
 */
export function annotateBatch(tracer: Pick<Tracer, 'putAnnotation'>, records: readonly SQSRecord[]): void {
  const attributes = records.map(stepSpanAttributes);
  for (const [annotation, attribute] of [
    ['tenant_id', 'agentos.tenant_id'],
    ['run_id', 'agentos.run_id'],
  ] as const) {
    const values = new Set(attributes.map((named) => named[attribute]));
    const [only] = values;
    if (values.size === 1 && only !== undefined) tracer.putAnnotation(annotation, only);
  }
}

export function longRunFailure(task: Extract<StepMessage, { kind: 'run.fail' }>): RunError {
  if (task.error === 'States.Timeout' || task.error === 'States.HeartbeatTimeout') {
    return {
      code: 'step_timeout',
      message: `Step ${task.step} sent no heartbeat or no result in time, on every attempt`,
    };
  }
  if (task.error === stepTaskErrors.retry || task.error === stepTaskErrors.failed) {
    let cause: Partial<RunError>;
    try {
      cause = JSON.parse(task.cause ?? '{}') as Partial<RunError>;
    } catch {
      cause = { message: task.cause ?? '' };
    }
    return {
      code: typeof cause.code === 'string' ? cause.code : 'internal',
      message: `Step ${task.step} failed on every attempt: ${cause.message ?? 'no reason given'}`,
    };
  }
  return {
    code: 'internal',
    message: `The run's state machine failed at step ${task.step} (${task.error})`,
  };
}

function runErrorOf(error: unknown): RunError {
  if (error instanceof AgentOsError && error.code !== 'internal')
    return { code: error.code, message: error.message };
  return { code: 'internal', message: 'The step failed unexpectedly' };
}

/**
 * How long a record waited on the queue when it was received (now − its `SentTimestamp`), in ms;
 * undefined without the attribute. A redelivered record counts from its first send, backoffs
 * included, as the queue's own `ApproximateAgeOfOldestMessage` does (HLD §10.2 backpressure).
 */
export function messageAgeMs(record: SQSRecord, nowMs: number): number | undefined {
  const sent = Number(record.attributes?.SentTimestamp);
  if (!Number.isFinite(sent) || sent <= 0) return undefined;
  return Math.max(0, nowMs - sent);
}

/** How long a chained step that threw waits before its own message brings it back. */
export const chainedRetrySeconds = 1;

/**
 * Time a step keeps, before its function is stopped, to store its results and answer (a quarter of
 * what is left when the function has less than 40 s).
 */
export const stepCommitMarginMs = 10_000;

/**
 * A worker process notes a step message's age for the capacity report at most once in this long
 * (HLD §10.2 backpressure): during a backlog every message is older than the last, and each note
 * is a write to the same item.
 */
export const stepAgeNoteIntervalMs = 5_000;

/** An age this much older than the last one noted is noted at once, whatever the interval. */
export const stepAgeNoteMarginMs = 5_000;

/**
 * The SQS step worker: runs each record's step and reports the records to redeliver in
 * `batchItemFailures`, so one failed step never redelivers its batch-mates. A record that is not a
 * valid step message comes back at once (not after the queue's visibility timeout), so it reaches
 * the DLQ after the queue's receive limit within seconds; a run it names is failed with the reason.
 * A step of a `long` run carries a task token: the worker heartbeats while the step runs and
 * answers the state machine, which owns its retries and its next step (HLD §4.3).
 */
export function createStepWorkerHandler(options: {
  engine: StepEngine;
  telemetry: Telemetry;
  maxAttempts: number;
  /** The queue's receive limit: the delivery after the last of them goes to the dead-letter queue. */
  maxReceives: number;
  /**
   * Delays the record's redelivery: by `seconds` when given, else by a backoff growing with
   * `attempt`; `queueArn` (the record's source) tells the step queue from the deadline queue.
   */
  redeliverAfter: (
    receiptHandle: string,
    attempt: number,
    seconds?: number,
    queueArn?: string,
  ) => Promise<void>;
  /** Answers the step tasks of long runs; without it, a step with a task token is refused. */
  driver?: RunDriverPort;
  /** Logs and counts a failure that does not change a record's outcome; the telemetry's when absent. */
  reportFailure?: FailureReporter;
  /**
   * Notes the age of run steps received for the first time for the node's capacity report (HLD
   * §10.2), throttled and not awaited; ages are only logged and counted without it.
   */
  stepAge?: Pick<StepAgePort, 'record'>;
  /** Goes on with an operator's stop of every run of a tenant; without it, such a task is refused. */
  stopper?: Pick<RunStopper, 'continueStop'>;
}) {
  const { logger, metrics } = options.telemetry;
  const reportFailure =
    options.reportFailure ??
    createFailureReporter(logger, (name, value) => metrics.addMetric(name, MetricUnit.Count, value));

  /** How long each record of the batch being processed waited on the queue, measured on receipt. */
  const ages = new WeakMap<SQSRecord, number>();

  /** The last age this process noted and when, and the largest age seen since, not yet noted. */
  let lastNote: { atMs: number; ageMs: number } | undefined;
  let unnotedMaxMs = 0;

  /** Measures how long the record waited on the queue, for its `task processed` line. */
  function measureAge(record: SQSRecord, receivedAtMs: number): void {
    const age = messageAgeMs(record, receivedAtMs);
    if (age !== undefined) ages.set(record, age);
  }

  /**
   * Counts a run step's wait as backlog (HLD §10.2 backpressure): `StepMessageAgeMs` with no tenant
   * dimension, so the metric's cardinality stays one series per function, and a note for the
   * node's capacity report. Only a first receive is backlog: a redelivered record's age includes the
   * waits the worker planned (slot waits, retry backoffs). The note is not awaited, so the step
   * never waits for it, and it is written at most once per {@link stepAgeNoteIntervalMs} unless the
   * age grew by more than {@link stepAgeNoteMarginMs}; then the largest age seen since is written.
   */
  function countBacklog(record: SQSRecord, attempt: number, nowMs: number): void {
    const age = ages.get(record);
    if (age === undefined || attempt !== 1) return;
    metrics.addMetric('StepMessageAgeMs', MetricUnit.Milliseconds, age);
    const stepAge = options.stepAge;
    if (stepAge === undefined) return;
    unnotedMaxMs = Math.max(unnotedMaxMs, age);
    const due =
      lastNote === undefined ||
      nowMs - lastNote.atMs >= stepAgeNoteIntervalMs ||
      unnotedMaxMs > lastNote.ageMs + stepAgeNoteMarginMs;
    if (!due) return;
    lastNote = { atMs: nowMs, ageMs: unnotedMaxMs };
    unnotedMaxMs = 0;
    // The step runs whether or not its age could be noted: the report only misses one figure.
    void stepAge
      .record(lastNote.ageMs)
      .catch((error: unknown) => reportFailure('step message age not recorded', error));
  }

  /** Logs what a task's delivery came to and counts it. */
  function recordOutcome(
    record: SQSRecord,
    task: Pick<RunTask, 'auth' | 'run_id' | 'kind'>,
    step: number | null,
    attempt: number,
    outcome: StepOutcome,
  ): void {
    const age = ages.get(record);
    logger.info('task processed', {
      tenant_id: task.auth.tenant_id,
      run_id: task.run_id,
      kind: task.kind,
      step,
      attempt,
      outcome: outcome.status,
      reason: outcome.reason,
      ...(age === undefined ? {} : { message_age_ms: age }),
    });
    metrics.addMetric(outcome.status === 'done' ? 'StepsProcessed' : 'StepsRetried', MetricUnit.Count, 1);
  }

  /** Brings a record back after a backoff; if that fails, the queue's visibility timeout applies. */
  async function backOff(
    record: SQSRecord,
    attempt: number,
    context: Record<string, unknown>,
    seconds?: number,
  ) {
    await options
      .redeliverAfter(record.receiptHandle, attempt, seconds, record.eventSourceARN)
      .catch((error: unknown) => reportFailure('step backoff not applied', error, context));
  }

  /** A record that is not a step message: back at once (towards the DLQ), and its run failed. */
  async function rejectRecord(
    record: SQSRecord,
    body: unknown,
    attempt: number,
    reason: string,
  ): Promise<false> {
    const named = IdentifiableRunSchema.safeParse(body);
    logger.error('invalid step message', {
      message_id: record.messageId,
      attempt,
      reason,
      ...(named.success ? { tenant_id: named.data.auth.tenant_id, run_id: named.data.run_id } : {}),
    });
    metrics.addMetric('InvalidStepMessages', MetricUnit.Count, 1);
    if (named.success) {
      await options.engine
        .fail(named.data.auth, named.data.run_id, {
          code: 'invalid_step_message',
          message: `The run's step message is not valid (${reason}); it was moved to the dead-letter queue`,
        })
        .catch((error: unknown) =>
          reportFailure('could not fail the run of an invalid step message', error, {
            run_id: named.data.run_id,
          }),
        );
    }
    await backOff(record, attempt, { message_id: record.messageId }, 0);
    return false;
  }

  /** Sends a step task's answer; false when it could not be sent, so the record is redelivered. */
  async function answer(task: LongStep, send: () => Promise<TaskAnswer>, what: string): Promise<boolean> {
    try {
      const result = await send();
      // The task ended meanwhile (the run was canceled, the step timed out and was retried, or
      // another delivery of this step answered it first): the execution has moved on without this
      // answer.
      if (result === 'task_over')
        logger.info('step task already over', { run_id: task.run_id, step: task.step, what });
      return true;
    } catch (error) {
      reportFailure('step task answer not sent', error, { run_id: task.run_id, step: task.step, what });
      return false;
    }
  }

  /**
   * One step of a long run: heartbeats at a third of the state machine's heartbeat interval while
   * it runs, then completes the task with the continuation or fails it for the state machine to
   * retry. The record itself is done once the task is answered.
   */
  async function processLongStep(
    record: SQSRecord,
    task: LongStep,
    driver: RunDriverPort,
    deadlineMs: number | undefined,
  ): Promise<boolean> {
    const { auth, run_id: runId, step } = task;
    const attempt = (task.attempt ?? 0) + 1;
    const heartbeatMs = Math.max(200, ((task.heartbeat_seconds ?? 60) * 1000) / 3);
    let taskOver = false;
    const beat = setInterval(() => {
      if (taskOver) return;
      driver.heartbeat(task.task_token).then(
        (result) => {
          if (result === 'task_over') taskOver = true;
        },
        (error: unknown) => reportFailure('step heartbeat not sent', error, { run_id: runId, step }),
      );
    }, heartbeatMs);
    let outcome: StepOutcome;
    try {
      outcome = await options.engine.execute(auth, {
        runId,
        step,
        attempt,
        maxAttempts: task.max_attempts ?? options.maxAttempts,
        ...(deadlineMs === undefined ? {} : { deadlineMs }),
      });
    } catch (error) {
      clearInterval(beat);
      logger.error('task failed', {
        tenant_id: auth.tenant_id,
        run_id: runId,
        kind: task.kind,
        step,
        attempt,
        error,
      });
      metrics.addMetric('StepErrors', MetricUnit.Count, 1);
      const maxAttempts = task.max_attempts ?? options.maxAttempts;
      if (attempt >= maxAttempts) {
        // The state machine's last attempt: the run fails here with the step's own reason, rather
        // than only through the cause the `run.fail` task carries back (HLD §10.1).
        await options.engine
          .abandon(auth, runId, attempt, error)
          .catch((failure: unknown) =>
            reportFailure('could not fail an abandoned run', failure, { run_id: runId, step }),
          );
      }
      return answer(
        task,
        () => driver.fail(task.task_token, stepTaskErrors.failed, taskCause(runErrorOf(error))),
        'failure',
      );
    }
    clearInterval(beat);
    recordOutcome(record, task, step, attempt, outcome);
    if (
      outcome.status === 'retry' &&
      (outcome.waitsForClaim === true || outcome.waitsForSlot === true) &&
      outcome.retryAfterSeconds !== undefined
    ) {
      // Waiting out another attempt's claim, or for a run slot, is not a failed attempt: the
      // execution waits, then runs the same step again. Any other retry spends one of the state
      // machine's attempts.
      const again: StepContinuation = { kind: 'next', step, waitSeconds: outcome.retryAfterSeconds };
      return answer(task, () => driver.succeed(task.task_token, again), 'result');
    }
    if (outcome.status === 'retry') {
      const cause = taskCause({
        code: outcome.reason,
        message: `the step will be retried (${outcome.reason})`,
      });
      return answer(task, () => driver.fail(task.task_token, stepTaskErrors.retry, cause), 'failure');
    }
    const continuation = outcome.continuation ?? { kind: 'end' };
    return answer(task, () => driver.succeed(task.task_token, continuation), 'result');
  }

  async function processRecord(record: SQSRecord, deadlineMs: number | undefined): Promise<boolean> {
    const receivedAtMs = Date.now();
    measureAge(record, receivedAtMs);
    const attempt = Number(record.attributes.ApproximateReceiveCount) || 1;
    let body: unknown;
    try {
      body = JSON.parse(record.body);
    } catch {
      return rejectRecord(record, undefined, attempt, 'not JSON');
    }
    const message = StepMessageSchema.safeParse(body);
    if (!message.success) {
      const issue = message.error.issues[0];
      return rejectRecord(
        record,
        body,
        attempt,
        `${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
      );
    }
    const task = message.data;
    // A standard step handed on by a chain (it carries its tries, none for a wait) waited on
    // purpose: its wait is no backlog.
    const handedOn = task.kind === 'run.step' && task.task_token === undefined && task.attempt !== undefined;
    if (task.kind === 'run.step' && !handedOn) countBacklog(record, attempt, receivedAtMs);
    if (task.kind === 'runs.stop') return processStopTask(record, task, attempt);
    if (task.kind === 'run.step' && task.task_token !== undefined) {
      if (options.driver === undefined)
        return rejectRecord(record, body, attempt, 'no run driver for a task token');
      return processLongStep(record, { ...task, task_token: task.task_token }, options.driver, deadlineMs);
    }
    if (task.kind === 'run.fail') return processFailTask(task, attempt, record);
    return processQueuedTask(record, task, attempt, deadlineMs);
  }

  /**
   * Stops the next page of a tenant's runs for the operator who stopped them all and hands the
   * page after it on (HLD §10.2). A run that cannot be stopped is reported by the stopper and the
   * page goes on past it; only a page that cannot be read or handed on fails the task, which then
   * comes back after a backoff and finds the runs it stopped already over, so none is stopped twice.
   */
  async function processStopTask(
    record: SQSRecord,
    task: Extract<StepMessage, { kind: 'runs.stop' }>,
    attempt: number,
  ): Promise<boolean> {
    const context = { tenant_id: task.tenant_id, kind: task.kind, attempt };
    if (options.stopper === undefined) {
      logger.error('task failed', { ...context, error: 'this worker cannot stop runs' });
      await backOff(record, attempt, context);
      return false;
    }
    try {
      const outcome = await options.stopper.continueStop(
        task.auth,
        task.tenant_id,
        task.reason,
        { status: task.status, cursor: task.cursor },
        task.created_before,
      );
      logger.info('task processed', {
        ...context,
        stopped: outcome.stopped.length,
        failed: outcome.failed.length,
        continuing: outcome.continuing,
      });
      return true;
    } catch (error) {
      logger.error('task failed', { ...context, error });
      metrics.addMetric('StepErrors', MetricUnit.Count, 1);
      await backOff(record, attempt, context);
      return false;
    }
  }

  /** The state machine gave a long run's step up: the run fails with the reason. */
  async function processFailTask(
    task: Extract<StepMessage, { kind: 'run.fail' }>,
    attempt: number,
    record: SQSRecord,
  ): Promise<boolean> {
    const error = longRunFailure(task);
    try {
      await options.engine.fail(task.auth, task.run_id, error);
      const age = ages.get(record);
      logger.info('task processed', {
        tenant_id: task.auth.tenant_id,
        run_id: task.run_id,
        kind: task.kind,
        step: task.step,
        reason: error.code,
        ...(age === undefined ? {} : { message_age_ms: age }),
      });
      return true;
    } catch (failure) {
      logger.error('task failed', {
        tenant_id: task.auth.tenant_id,
        run_id: task.run_id,
        kind: task.kind,
        attempt,
        error: failure,
      });
      metrics.addMetric('StepErrors', MetricUnit.Count, 1);
      await backOff(record, attempt, { run_id: task.run_id });
      return false;
    }
  }

  /**
   * A step that waits for a run slot (HLD §10.2) comes back after the wait, however long it waits:
   * on the queue's last receive it is sent afresh (and this record acknowledged) rather than moved
   * to the dead-letter queue or the run given up.
   */
  async function waitForSlot(
    record: SQSRecord,
    task: Pick<RunTask, 'auth' | 'run_id'>,
    step: number,
    attempt: number,
    outcome: StepOutcome,
  ): Promise<boolean> {
    if (attempt < options.maxReceives) {
      await backOff(record, attempt, { run_id: task.run_id, step }, outcome.retryAfterSeconds);
      return false;
    }
    try {
      await options.engine.resend(task.auth, task.run_id, step);
      return true;
    } catch (error) {
      // Left on the queue: the dead-letter queue and its alarm tell the operator.
      reportFailure('waiting step not sent afresh', error, { run_id: task.run_id, step });
      return false;
    }
  }

  /**
   * Runs a chained step as a span of its own, a child of the step before it (HLD §9.1); undefined
   * when it threw (logged and counted), for the caller to hand the step to the queue.
   */
  async function runChained(
    auth: RunTask['auth'],
    runId: string,
    step: number,
    runStep: (step: number, attempt: number) => Promise<StepOutcome>,
  ): Promise<StepOutcome | undefined> {
    const trace = continueTrace(outgoingTraceparent());
    const startedMs = Date.now();
    const attributes = { 'agentos.tenant_id': auth.tenant_id, 'agentos.run_id': runId };
    try {
      const outcome = await runInTrace(trace, () => runStep(step, 1));
      exportSpan('step', trace, { ...attributes, 'agentos.step_ok': outcome.status === 'done' }, startedMs);
      return outcome;
    } catch (error) {
      exportSpan('step', trace, { ...attributes, 'agentos.step_ok': false }, startedMs);
      logger.error('task failed', {
        tenant_id: auth.tenant_id,
        run_id: runId,
        kind: 'run.step',
        step,
        error,
      });
      metrics.addMetric('StepErrors', MetricUnit.Count, 1);
      return undefined;
    }
  }

  /**
   * Hands a chained step that must be tried again to the queue as a message of its own and ends
   * the carrying record; if it cannot be sent, the record comes back after a backoff and its
   * redelivery goes on with the run (HLD §4.3).
   */
  async function handOff(
    record: SQSRecord,
    task: Pick<RunTask, 'auth' | 'run_id'>,
    { step, carrier }: { step: number; carrier: number },
    attempt: number,
    outcome: StepOutcome,
  ): Promise<boolean> {
    // A wait (for a slot, or for another delivery's model call) was no failed try.
    const waited = outcome.waitsForSlot === true || outcome.waitsForClaim === true;
    try {
      await options.engine.resend(task.auth, task.run_id, step, {
        delaySeconds: outcome.retryAfterSeconds ?? chainedRetrySeconds,
        triedBefore: waited ? 0 : 1,
        carrier,
      });
      return true;
    } catch (error) {
      reportFailure('chained step not queued', error, { run_id: task.run_id, step });
      // A run waiting for a slot is never given up (HLD §10.2): as a step waiting for one whose
      // fresh message could not be sent, the record comes back, or on its last delivery goes to
      // the dead-letter queue, whose alarm tells the operator.
      if (attempt < options.maxReceives || outcome.waitsForSlot === true) {
        await backOff(record, attempt, { run_id: task.run_id, step });
        return false;
      }
      // The record's last delivery: it goes to the dead-letter queue next, so the run ends now.
      await options.engine
        .abandon(task.auth, task.run_id, attempt, error)
        .catch((failure: unknown) =>
          reportFailure('could not fail an abandoned run', failure, { run_id: task.run_id }),
        );
      return false;
    }
  }

  async function processQueuedTask(
    record: SQSRecord,
    task: Exclude<RunTask, { kind: 'run.fail' }>,
    attempt: number,
    deadlineMs: number | undefined,
  ): Promise<boolean> {
    const { auth, run_id: runId } = task;
    const carrier = task.kind === 'run.step' ? task.step : null;
    // A step handed on by a chain had a try there already; its deliveries add to it.
    const tried = task.kind === 'run.step' ? (task.attempt ?? 0) : 0;
    let step = carrier;
    try {
      const runStep = (delivered: number, deliveryAttempt: number) =>
        options.engine.execute(auth, {
          runId,
          step: delivered,
          attempt: deliveryAttempt,
          maxAttempts: options.maxAttempts,
          ...(deadlineMs === undefined ? {} : { deadlineMs, carrier: carrier ?? delivered }),
        });
      let outcome =
        step === null ? await options.engine.expire(auth, runId) : await runStep(step, attempt + tried);
      recordOutcome(record, task, step, attempt, outcome);
      // A step that completed with time to spare left its successor to this worker, under this
      // message (HLD §4.3, chained steps): the run goes on here without a queue round trip.
      while (outcome.chained === true && outcome.continuation?.kind === 'next') {
        const chained = outcome.continuation.step;
        step = chained;
        const next = await runChained(auth, runId, chained, runStep);
        if (next === undefined)
          return handOff(record, task, { step: chained, carrier: carrier ?? chained }, attempt, {
            status: 'retry',
            reason: 'error',
            retryAfterSeconds: chainedRetrySeconds,
          });
        outcome = next;
        recordOutcome(record, task, chained, 1, outcome);
        // A chained step to try again goes to the queue as a message of its own, after the wait the
        // step asked for, with its own deliveries to count rather than spending this message's.
        if (outcome.status === 'retry')
          return handOff(record, task, { step: chained, carrier: carrier ?? chained }, attempt, outcome);
      }
      if (outcome.status === 'retry' && outcome.waitsForSlot === true && step !== null) {
        return waitForSlot(record, task, step, attempt, outcome);
      }
      if (outcome.status === 'retry' && attempt >= options.maxReceives) {
        // The queue would move it to the dead-letter queue on the next receive: end the run now. If
        // that fails too, the message stays, so it still reaches the dead-letter queue.
        return options.engine
          .abandon(
            auth,
            runId,
            attempt,
            new DependencyUnavailableError(`the step was still waiting (${outcome.reason})`),
          )
          .then(
            () => true,
            (failure: unknown) => {
              reportFailure('could not fail an abandoned run', failure, { run_id: runId });
              return false;
            },
          );
      }
      // The queue's visibility timeout still brings the record back, only later.
      if (outcome.status === 'retry')
        await backOff(record, attempt, { run_id: runId, step }, outcome.retryAfterSeconds);
      return outcome.status === 'done';
    } catch (error) {
      if (attempt >= options.maxReceives) {
        // The last delivery: the message goes to the dead-letter queue next, so the run ends now.
        await options.engine
          .abandon(auth, runId, attempt, error)
          .catch((failure: unknown) =>
            reportFailure('could not fail an abandoned run', failure, { run_id: runId }),
          );
      } else {
        await backOff(record, attempt, { run_id: runId, step });
      }
      logger.error('task failed', {
        tenant_id: auth.tenant_id,
        run_id: runId,
        kind: task.kind,
        step,
        attempt,
        error,
      });
      metrics.addMetric('StepErrors', MetricUnit.Count, 1);
      return false;
    }
  }

  return middy<SQSEvent, SQSBatchResponse, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(options.telemetry.tracer, { captureResponse: false }))
    .use(logMetrics(metrics))
    .handler(async (event, context) => {
      annotateBatch(options.telemetry.tracer, event.Records);
      // A step must end (and store what it did) before the function is stopped: its tools get no
      // more than the invocation has left, less the time to commit (HLD §10.1).
      const remainingMs = context?.getRemainingTimeInMillis?.();
      const deadlineMs =
        remainingMs === undefined
          ? undefined
          : Date.now() + remainingMs - Math.min(stepCommitMarginMs, remainingMs / 4);
      const results = await Promise.all(
        event.Records.map(async (record) => {
          // Each step goes on with the trace of the request (or step) that queued it (HLD §9.1).
          const trace = continueTrace(record.messageAttributes?.[traceparentHeader]?.stringValue);
          const startedMs = Date.now();
          const ok = await runInTrace(trace, () => processRecord(record, deadlineMs));
          exportSpan('step', trace, { ...stepSpanAttributes(record), 'agentos.step_ok': ok }, startedMs);
          return { record, ok };
        }),
      );
      return {
        batchItemFailures: results
          .filter(({ ok }) => !ok)
          .map(({ record }) => ({ itemIdentifier: record.messageId })),
      };
    });
}
