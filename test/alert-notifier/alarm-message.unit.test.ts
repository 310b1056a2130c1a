import { describe, expect, it } from 'vitest';
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
