import { z } from 'zod';
import { alarmCatalog } from '../../shared/observability/alarm-catalog.ts';
import { testAlarm } from '../../shared/observability/alert-notifier.ts';
import type { AlertEvent } from '../../shared/observability/alert-notifier.ts';

/**
 * The parts of a CloudWatch alarm's SNS message (its `Message`, a JSON string) the notifier reads.
 * Nothing of its shape is trusted: a message that does not parse, or names an alarm that is not one
 * of the node's (`agentos-<node id>-<catalog id>`), is refused rather than mailed.
 */
export const CloudWatchAlarmMessageSchema = z.looseObject({
  AlarmName: z.string().min(1).max(255),
  NewStateValue: z.enum(['ALARM', 'OK', 'INSUFFICIENT_DATA']),
  OldStateValue: z.enum(['ALARM', 'OK', 'INSUFFICIENT_DATA']).optional(),
  NewStateReason: z.string().max(1_024).optional(),
  StateChangeTime: z.iso
    .datetime({ offset: true })
    .or(z.string().regex(/^\d{4}-\d\d-\d\dT[\d:.]+[+-]\d{4}$/)),
});

export type CloudWatchAlarmMessage = z.infer<typeof CloudWatchAlarmMessageSchema>;

/** The last figure of a state reason such as `Threshold Crossed: 1 datapoint [5.0 (04/12/26 18:00:00)] ...`. */
function breachingValue(reason: string | undefined): number {
  const match = /\[([-\d.eE+]+)\s/.exec(reason ?? '');
  const value = match === null ? Number.NaN : Number(match[1]);
  return Number.isFinite(value) ? value : Number.NaN;
}

/**
 * The periods without data of a reason such as `Threshold Crossed: no datapoints were received for 2
 * periods and 2 missing datapoints were treated as [Breaching].`; undefined for a reason with data.
 */
function noDataPeriods(reason: string | undefined): number | undefined {
  const match = /no datapoints were received for (\d+) period/.exec(reason ?? '');
  return match === null ? undefined : Number(match[1]);
}

/**
 * The state reason `agentos validate --test-alert` sets on one of the node's alarms: the test alert
 * goes the whole way a real one goes (alarm action, topic, notifier, e-mail), and this reason makes
 * it a test alert, which says so and which the dedup never swallows.
 */
export function testAlertReason(testId: string): string {
  return `agentos validate --test-alert ${testId}`;
}

const testAlertReasonPattern =
  /^agentos validate --test-alert ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** Why a message was not turned into an alert. */
export class AlarmMessageRefused extends Error {
  override readonly name = 'AlarmMessageRefused';
}

/**
 * Turns the `Message` of an SNS notification from one of the node's alarms into the notifier's
 * event (HLD §9.3); `undefined` for a state change that is not an alarm firing (OK,
 * INSUFFICIENT_DATA). An alarm set to ALARM with {@link testAlertReason} is the test alert. Throws {@link AlarmMessageRefused} for anything else than a node alarm.
 */
export function alertEventOf(
  message: string,
  node: { nodeId: string; stage: string },
): AlertEvent | undefined {
  let json: unknown;
  try {
    json = JSON.parse(message);
  } catch {
    throw new AlarmMessageRefused('the SNS message is not JSON');
  }
  const parsed = CloudWatchAlarmMessageSchema.safeParse(json);
  if (!parsed.success) {
    throw new AlarmMessageRefused(
      `the SNS message is not a CloudWatch alarm state change (${parsed.error.issues[0]?.path.join('.') ?? '?'})`,
    );
  }
  const prefix = `agentos-${node.nodeId}-`;
  const alarm = alarmCatalog.find((entry) => parsed.data.AlarmName === `${prefix}${entry.id}`);
  if (alarm === undefined) throw new AlarmMessageRefused('the alarm is not one of this node');
  if (parsed.data.NewStateValue !== 'ALARM') return undefined;
  const firedAtMs = Date.parse(parsed.data.StateChangeTime.replace(/([+-]\d\d)(\d\d)$/, '$1:$2'));
  const testId = testAlertReasonPattern.exec(parsed.data.NewStateReason ?? '')?.[1];
  if (testId !== undefined) {
    return {
      alarm: testAlarm,
      nodeId: node.nodeId,
      stage: node.stage,
      value: 1,
      firedAtMs: Number.isFinite(firedAtMs) ? firedAtMs : 0,
      test: true,
      testId,
    };
  }
  const missing = noDataPeriods(parsed.data.NewStateReason);
  return {
    alarm,
    nodeId: node.nodeId,
    stage: node.stage,
    value: breachingValue(parsed.data.NewStateReason),
    firedAtMs: Number.isFinite(firedAtMs) ? firedAtMs : 0,
    ...(missing === undefined ? {} : { noDataPeriods: missing }),
    ...(parsed.data.OldStateValue === 'INSUFFICIENT_DATA' ? { fromInsufficientData: true } : {}),
  };
}
