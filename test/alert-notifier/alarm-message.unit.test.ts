import { describe, expect, it } from 'vitest';
import { AlertNotifier, composeAlertEmail } from '../../functions/shared/observability/alert-notifier.ts';
import type { AlertEmail } from '../../functions/shared/observability/alert-notifier.ts';
import { InMemoryAlertDedup } from '../../functions/shared/observability/alert-dedup-port.ts';
import { ManualClock } from '../support/manual-clock.ts';
import {
  AlarmMessageRefused,
  alertEventOf,
  testAlertReason,
} from '../../functions/alert-notifier/schemas/alarm-message.ts';

const node = { nodeId: 'main', stage: 'prod' };

/** A CloudWatch alarm notification's `Message`, as SNS delivers it. */
function message(fields: Record<string, unknown>): string {
  return JSON.stringify({
    AlarmName: 'agentos-main-dlq_not_empty',
    AlarmDescription: 'Step messages were dead-lettered after their last delivery',
    NewStateValue: 'ALARM',
    NewStateReason:
      'Threshold Crossed: 1 out of the last 1 datapoints [4.0 (04/12/26 18:00:00)] was greater than the threshold (0.0).',
    StateChangeTime: '2026-12-04T18:01:02.345+0000',
    ...fields,
  });
}

describe('alertEventOf', () => {
  it('returns the catalog alarm, the breaching value and the state change time of a firing alarm', () => {
    expect(alertEventOf(message({}), node)).toMatchObject({
      alarm: { id: 'dlq_not_empty', threshold: 0 },
      nodeId: 'main',
      stage: 'prod',
      value: 4,
      firedAtMs: Date.parse('2026-12-04T18:01:02.345Z'),
    });
  });

  it('returns an alert that says the metric had no data, never NaN, for an alarm firing on missing data', () => {
    const event = alertEventOf(
      message({
        AlarmName: 'agentos-main-service_down',
        OldStateValue: 'INSUFFICIENT_DATA',
        NewStateReason:
          'Threshold Crossed: no datapoints were received for 2 periods and 2 missing datapoints were treated as [Breaching].',
      }),
      node,
    );
    expect(event).toMatchObject({ noDataPeriods: 2, fromInsufficientData: true });
    const { text } = composeAlertEmail(event!);
    expect(text).toContain('no data for 2 period(s)');
    expect(text).not.toContain('NaN');
  });

  it('returns a real firing mailed even right after a no-data firing of a new alarm', async () => {
    const sent: AlertEmail[] = [];
    const notifier = new AlertNotifier({
      dedup: new InMemoryAlertDedup(),
      transport: { send: (email) => Promise.resolve({ messageId: `<${sent.push(email)}@test>` }) },
      clock: new ManualClock(),
      windowMs: 3_600_000,
    });
    const noData = {
      AlarmName: 'agentos-main-service_down',
      NewStateReason:
        'Threshold Crossed: no datapoints were received for 2 periods and 2 missing datapoints were treated as [Breaching].',
    };
    await notifier.notify(alertEventOf(message({ ...noData, OldStateValue: 'INSUFFICIENT_DATA' }), node)!);
    await notifier.notify(alertEventOf(message({ ...noData, OldStateValue: 'OK' }), node)!);
    await notifier.notify(alertEventOf(message({ ...noData, OldStateValue: 'OK' }), node)!);
    expect(sent).toHaveLength(2);
  });

  it('returns nothing for an alarm that cleared', () => {
    expect(alertEventOf(message({ NewStateValue: 'OK' }), node)).toBeUndefined();
  });

  it("throws when the alarm is another node's or not in the catalog", () => {
    expect(() => alertEventOf(message({ AlarmName: 'agentos-qa-dlq_not_empty' }), node)).toThrow(
      AlarmMessageRefused,
    );
    expect(() => alertEventOf(message({ AlarmName: 'agentos-main-disk_full' }), node)).toThrow(
      AlarmMessageRefused,
    );
  });

  it('throws when the message is not JSON or not an alarm state change', () => {
    expect(() => alertEventOf('hello', node)).toThrow(AlarmMessageRefused);
    expect(() => alertEventOf(message({ NewStateValue: 'EXPLODED' }), node)).toThrow(AlarmMessageRefused);
  });
});

describe('alertEventOf for the test alert', () => {
  it('returns a test alert with its test id for an alarm set to ALARM by validate --test-alert', () => {
    const testId = crypto.randomUUID();
    expect(alertEventOf(message({ NewStateReason: testAlertReason(testId) }), node)).toMatchObject({
      alarm: { id: 'test_alert' },
      test: true,
      testId,
    });
  });
});
