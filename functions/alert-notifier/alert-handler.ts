import type { SNSEvent } from 'aws-lambda';
import type { AlertEvent, AlertNotifier, NotifyOutcome } from '../shared/observability/alert-notifier.ts';
import { AlertDeliveryError } from '../shared/observability/alert-notifier.ts';
import { describeError } from '../shared/observability/failure-reporter.ts';
import { AlarmMessageRefused, alertEventOf } from './schemas/alarm-message.ts';

/** What the handler logs and counts with: the parts of Powertools it uses. */
export type AlertHandlerTelemetry = {
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
  count(metric: AlertHandlerMetric, value: number): void;
  /** Publishes what was counted (Powertools flushes once per invocation). */
  flush(): void;
};

/** The metrics the notifier publishes (global, no tenant dimension: HLD §9.2). */
export type AlertHandlerMetric = 'AlertsSent' | 'AlertsDeduplicated' | 'AlertsFailed' | 'AlertsRefused';

/** What one record became; the handler's result lists them (for the test alert's confirmation). */
export type AlertRecordOutcome =
  | { outcome: 'sent'; alarm: string; messageId: string; attempts: number; testId?: string }
  | { outcome: 'deduplicated'; alarm: string }
  | { outcome: 'ignored'; reason: string }
  | { outcome: 'refused'; reason: string };

/** The log line of a sent alert: `validate --test-alert` looks for it by its test id. */
export const alertSentLogMessage = 'alert e-mail sent';

/**
 * The alert notifier's Lambda handler (HLD §9.3): each SNS record's message is validated as one of
 * the node's CloudWatch alarm state changes (or the test alert), then mailed through the notifier,
 * which dedups it on the node's table and sends with bounded retry. A message that is not a node
 * alarm is refused, logged and counted but not retried (it will never become one). A send that
 * failed is logged and counted, then thrown, so Lambda retries the SNS delivery. Only ids and
 * figures are logged: never an e-mail's body, an address or a credential.
 */
export function createAlertHandler(deps: {
  notifier: Pick<AlertNotifier, 'notify'>;
  node: { nodeId: string; stage: string };
  telemetry: AlertHandlerTelemetry;
}): (event: SNSEvent) => Promise<{ records: AlertRecordOutcome[] }> {
  const { notifier, node, telemetry } = deps;
  const one = async (message: string): Promise<AlertRecordOutcome> => {
    let alert: AlertEvent | undefined;
    try {
      alert = alertEventOf(message, node);
    } catch (error) {
      if (!(error instanceof AlarmMessageRefused)) throw error;
      telemetry.warn('alarm message refused', { error: describeError(error) });
      telemetry.count('AlertsRefused', 1);
      return { outcome: 'refused', reason: error.message };
    }
    if (alert === undefined) return { outcome: 'ignored', reason: 'not an alarm firing' };
    const ids = {
      alarm: alert.alarm.id,
      ...(alert.tenantId === undefined ? {} : { tenant_id: alert.tenantId }),
      ...(alert.testId === undefined ? {} : { test_id: alert.testId }),
    };
    let outcome: NotifyOutcome;
    try {
      outcome = await notifier.notify(alert);
    } catch (error) {
      telemetry.error('alert e-mail not sent', {
        ...ids,
        error: describeError(error),
        ...(error instanceof AlertDeliveryError && error.releaseError !== undefined
          ? { release_error: describeError(error.releaseError) }
          : {}),
      });
      telemetry.count('AlertsFailed', 1);
      throw error;
    }
    if (!outcome.sent) {
      telemetry.info('alert deduplicated', ids);
      telemetry.count('AlertsDeduplicated', 1);
      return { outcome: 'deduplicated', alarm: alert.alarm.id };
    }
    telemetry.info(alertSentLogMessage, {
      ...ids,
      message_id: outcome.messageId,
      attempts: outcome.attempts,
    });
    telemetry.count('AlertsSent', 1);
    return {
      outcome: 'sent',
      alarm: alert.alarm.id,
      messageId: outcome.messageId,
      attempts: outcome.attempts,
      ...(alert.testId === undefined ? {} : { testId: alert.testId }),
    };
  };
  return async (event) => {
    try {
      const records: AlertRecordOutcome[] = [];
      // One at a time: SNS hands Lambda one record per invocation, and sends must not race their dedup.
      for (const record of event.Records) records.push(await one(record.Sns.Message));
      return { records };
    } finally {
      telemetry.flush();
    }
  };
}
