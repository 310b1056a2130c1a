import { DependencyUnavailableError } from '../../../shared/errors/agentos-error.ts';
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { createFailureReporter } from '../../../shared/observability/failure-reporter.ts';
import type { Telemetry } from '../../../shared/observability/telemetry.ts';
import type { StepEngine } from '../../runtime/step-engine.ts';
import { StepMessageSchema } from '../../runtime/step-message.ts';

/**
 * The SQS step worker: runs each record's step and reports the records to redeliver in
 * `batchItemFailures`, so one failed step never redelivers its batch-mates. A record that is not a
 * valid step message is reported too; after the queue's receive limit it lands in the DLQ.
 */
export function createStepWorkerHandler(options: {
  engine: StepEngine;
  telemetry: Telemetry;
  maxAttempts: number;
  /** The queue's receive limit: the delivery after the last of them goes to the dead-letter queue. */
  maxReceives: number;
  /** Brings a record back after a backoff; if that fails, the queue's visibility timeout applies. */
  /** Delays the record's redelivery: by `seconds` when given, else by a backoff growing with `attempt`. */
  redeliverAfter: (receiptHandle: string, attempt: number, seconds?: number) => Promise<void>;
}) {
  const { logger, metrics } = options.telemetry;
  const reportFailure = createFailureReporter(logger, (name, value) =>
    metrics.addMetric(name, MetricUnit.Count, value),
  );

  async function processRecord(record: SQSRecord): Promise<boolean> {
    let body: unknown;
    try {
      body = JSON.parse(record.body);
    } catch {
      body = undefined;
    }
    const message = StepMessageSchema.safeParse(body);
    if (!message.success) {
      logger.error('invalid step message', { message_id: record.messageId });
      return false;
    }
    const task = message.data;
    const { auth, run_id: runId } = task;
    const attempt = Number(record.attributes.ApproximateReceiveCount) || 1;
    const step = task.kind === 'run.step' ? task.step : null;
    try {
      const outcome =
        task.kind === 'run.step'
          ? await options.engine.execute(auth, {
              runId,
              step: task.step,
              attempt,
              maxAttempts: options.maxAttempts,
            })
          : await options.engine.expire(auth, runId);
      logger.info('task processed', {
        tenant_id: auth.tenant_id,
        run_id: runId,
        kind: task.kind,
        step,
        attempt,
        outcome: outcome.status,
        reason: outcome.reason,
      });
      metrics.addMetric(outcome.status === 'done' ? 'StepsProcessed' : 'StepsRetried', MetricUnit.Count, 1);
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
      if (outcome.status === 'retry') {
        // The queue's visibility timeout still brings the record back, only later.
        await options
          .redeliverAfter(record.receiptHandle, attempt, outcome.retryAfterSeconds)
          .catch((error: unknown) =>
            reportFailure('step backoff not applied', error, { run_id: runId, step }),
          );
      }
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
        await options
          .redeliverAfter(record.receiptHandle, attempt)
          .catch((failure: unknown) =>
            reportFailure('step backoff not applied', failure, { run_id: runId, step }),
          );
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
    .use(logMetrics(metrics))
    .handler(async (event) => {
      const results = await Promise.all(
        event.Records.map(async (record) => ({ record, ok: await processRecord(record) })),
      );
      return {
        batchItemFailures: results
          .filter(({ ok }) => !ok)
          .map(({ record }) => ({ itemIdentifier: record.messageId })),
      };
    });
}
