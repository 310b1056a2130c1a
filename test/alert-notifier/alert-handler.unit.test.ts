import type { SNSEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createAlertHandler } from '../../functions/alert-notifier/alert-handler.ts';
import type { AlertHandlerTelemetry } from '../../functions/alert-notifier/alert-handler.ts';
import { testAlertReason } from '../../functions/alert-notifier/schemas/alarm-message.ts';
import { InMemoryAlertDedup } from '../../functions/shared/observability/alert-dedup-port.ts';
import { AlertNotifier } from '../../functions/shared/observability/alert-notifier.ts';
import type { AlertEmail } from '../../functions/shared/observability/alert-notifier.ts';
import { ManualClock } from '../support/manual-clock.ts';

const node = { nodeId: 'main', stage: 'prod' };

function snsEvent(...messages: Record<string, unknown>[]): SNSEvent {
  return {
    Records: messages.map((fields) => ({
      EventSource: 'aws:sns',
      EventVersion: '1.0',
      EventSubscriptionArn: 'arn:aws:sns:us-east-1:123456789012:agentos-main-alarms:sub',
      Sns: {
        Type: 'Notification',
        MessageId: crypto.randomUUID(),
        TopicArn: 'arn:aws:sns:us-east-1:123456789012:agentos-main-alarms',
        Subject: null,
        Message: JSON.stringify({
          AlarmName: 'agentos-main-dlq_not_empty',
          NewStateValue: 'ALARM',
          NewStateReason: 'Threshold Crossed: 1 datapoint [4.0 (04/12/26 18:00:00)] was greater than 0.',
          StateChangeTime: '2026-12-04T18:01:02.345+0000',
          ...fields,
        }),
        Timestamp: '2026-12-04T18:01:03.000Z',
        SignatureVersion: '1',
        Signature: 'x',
        SigningCertUrl: 'https://example.invalid',
        UnsubscribeUrl: 'https://example.invalid',
        MessageAttributes: {},
      },
    })),
  } as unknown as SNSEvent;
}

function recording(failures = 0) {
  const sent: AlertEmail[] = [];
  const logs: { level: string; message: string; attributes: Record<string, unknown> }[] = [];
  const counts: Record<string, number> = {};
  let left = failures;
  const telemetry: AlertHandlerTelemetry = {
    info: (message, attributes) => logs.push({ level: 'info', message, attributes }),
    warn: (message, attributes) => logs.push({ level: 'warn', message, attributes }),
    error: (message, attributes) => logs.push({ level: 'error', message, attributes }),
    count: (metric, value) => {
      counts[metric] = (counts[metric] ?? 0) + value;
    },
    flush: () => undefined,
  };
  const notifier = new AlertNotifier({
    dedup: new InMemoryAlertDedup(),
    transport: {
      send(email) {
        if (left > 0) {
          left -= 1;
          return Promise.reject(new Error('454 relay unavailable'));
        }
        sent.push(email);
        return Promise.resolve({ messageId: `ses-${sent.length}` });
      },
    },
    clock: new ManualClock(),
    windowMs: 60_000,
    maxAttempts: 2,
  });
  return { sent, logs, counts, handler: createAlertHandler({ notifier, node, telemetry }) };
}

describe('alert notifier handler', () => {
  it('returns sent with the message id for a firing alarm, and deduplicated for its repeat', async () => {
    const { handler, sent, counts } = recording();
    expect(await handler(snsEvent({}))).toEqual({
      records: [{ outcome: 'sent', alarm: 'dlq_not_empty', messageId: 'ses-1', attempts: 1 }],
    });
    expect(await handler(snsEvent({}))).toEqual({
      records: [{ outcome: 'deduplicated', alarm: 'dlq_not_empty' }],
    });
    expect(sent).toHaveLength(1);
    expect(counts).toEqual({ AlertsSent: 1, AlertsDeduplicated: 1 });
  });

  it('returns sent for every test alert of an alarm, each with its test id', async () => {
    const { handler, sent } = recording();
    const first = crypto.randomUUID();
    const second = crypto.randomUUID();
    await handler(snsEvent({ NewStateReason: testAlertReason(first) }));
    const result = await handler(snsEvent({ NewStateReason: testAlertReason(second) }));
    expect(result.records).toEqual([expect.objectContaining({ outcome: 'sent', testId: second })]);
    expect(sent.map((email) => email.subject)).toEqual([
      expect.stringContaining(`[TEST] [AgentOS prod] test_alert on node main (${first})`),
      expect.stringContaining(second),
    ]);
  });

  it('returns ignored for an alarm that cleared, and refused for a message that is no node alarm', async () => {
    const { handler, sent, counts } = recording();
    const result = await handler(
      snsEvent({ NewStateValue: 'OK' }, { AlarmName: 'agentos-other-dlq_not_empty' }),
    );
    expect(result.records.map((record) => record.outcome)).toEqual(['ignored', 'refused']);
    expect(sent).toEqual([]);
    expect(counts).toEqual({ AlertsRefused: 1 });
  });

  it('throws when the e-mail cannot be sent, after logging and counting it without the body', async () => {
    const { handler, logs, counts } = recording(2);
    await expect(handler(snsEvent({}))).rejects.toThrow('454 relay unavailable');
    expect(counts).toEqual({ AlertsFailed: 1 });
    const logged = JSON.stringify(logs);
    expect(logged).toContain('alert e-mail not sent');
    expect(logged).not.toContain('Threshold Crossed');
    expect(logged).not.toContain('Next:');
  });
});
