import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Telemetry } from '../../../shared/observability/telemetry.ts';
import type { LedgerPort } from '../../ports/ledger-port.ts';
import { decodeSettlementMessage, UnreadableSettlementError } from './settlement-message.ts';

/**
 * The time one settlement may take at most: the client's attempts at the transaction (3 × 4 s with
 * the default timeouts, and backoff) and the ledger's retries on a conflict.
 */
export const settleMarginMs = 20_000;

/**
 * The settlement worker's SQS handler (HLD §5.3): writes each queued settlement to the ledger, which
 * applies a settlement once however often it is delivered. A message whose write fails stays on the
 * queue for a later delivery (a partial batch failure); one that cannot be read, or keeps failing,
 * reaches the dead-letter queue after its receives, where the `dlq_not_empty` alarm finds it. Logs
 * name the tenant and request, never the answer.
 */
export function createSettlementWorkerHandler(deps: { ledger: LedgerPort; telemetry: Telemetry }) {
  const { logger, metrics, tracer } = deps.telemetry;

  async function settle(record: SQSRecord): Promise<boolean> {
    const receiveCount = Number(record.attributes.ApproximateReceiveCount);
    let message;
    try {
      message = decodeSettlementMessage(record.body);
    } catch (error) {
      if (!(error instanceof UnreadableSettlementError)) throw error;
      // Counted once per message, not once per receive: it will not read better the next time.
      if (receiveCount <= 1) metrics.addMetric('ModelSettlementsUnreadable', MetricUnit.Count, 1);
      logger.error(
        'a queued settlement cannot be read; it goes to the dead-letter queue after its receives',
        {
          message_id: record.messageId,
          tenant_id: record.messageAttributes['tenant_id']?.stringValue,
          receive_count: receiveCount,
          reason: error.message,
        },
      );
      return false;
    }
    const { tenantId, settlement } = message;
    const named = {
      tenant_id: tenantId,
      request_id: settlement.claim.requestId,
      receive_count: receiveCount,
    };
    try {
      await deps.ledger.settle(tenantId, settlement);
      metrics.addMetric('ModelSettlementsRecovered', MetricUnit.Count, 1);
      logger.info('a queued settlement was written', named);
      return true;
    } catch (error) {
      // The store's own error tells a passing outage (throttling, timeouts) from one no redelivery
      // cures (an item too large): an operator reads it before redriving the dead-letter queue.
      const cause = (error as Error).cause;
      logger.warn('a queued settlement could not be written yet; it stays queued', {
        ...named,
        error_name: (error as Error).name,
        ...(cause instanceof Error ? { cause_name: cause.name } : {}),
      });
      return false;
    }
  }

  return middy<SQSEvent, SQSBatchResponse, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(logMetrics(metrics))
    .handler(async (event, context) => {
      // One at a time: a tenant's settlements all update its day and month aggregates and its
      // budget counters, so settled at once they would mostly conflict with each other. A message
      // is begun only while a write's whole retry budget still fits in the invocation: one cut off
      // by the function's timeout would give no partial answer, and the whole batch would return.
      const failures: { itemIdentifier: string }[] = [];
      for (const record of event.Records) {
        const fits = context.getRemainingTimeInMillis() >= settleMarginMs;
        if (!fits || !(await settle(record))) failures.push({ itemIdentifier: record.messageId });
      }
      return { batchItemFailures: failures };
    });
}
