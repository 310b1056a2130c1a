import { describe, expect, it } from 'vitest';
import { alarmCatalog } from '../../../functions/shared/observability/alarm-catalog.ts';
import { InMemoryAlertDedup } from '../../../functions/shared/observability/alert-dedup-port.ts';
import {
  AlertDeliveryError,
  AlertNotifier,
  alertIdHeader,
  composeAlertEmail,
  testAlarm,
  testIdHeader,
} from '../../../functions/shared/observability/alert-notifier.ts';
import type { AlertEmail, AlertEvent } from '../../../functions/shared/observability/alert-notifier.ts';
import { ManualClock } from '../../support/manual-clock.ts';

const errorRate = alarmCatalog.find((alarm) => alarm.id === 'high_error_rate')!;
const budget = alarmCatalog.find((alarm) => alarm.id === 'tenant_budget_exceeded')!;
const firedAtMs = Date.parse('2026-03-04T05:06:07Z');

function event(overrides: Partial<AlertEvent> = {}): AlertEvent {
  return { alarm: errorRate, nodeId: 'local', stage: 'dev', value: 12.5, firedAtMs, ...overrides };
}

/** A transport recording what it sends, failing the first `failures` sends. */
function recordingTransport(failures = 0) {
  const sent: AlertEmail[] = [];
  let left = failures;
  return {
    sent,
    send(email: AlertEmail) {
      if (left > 0) {
        left -= 1;
        return Promise.reject(new Error('421 try again later'));
      }
      sent.push(email);
      return Promise.resolve({ messageId: `<m${sent.length}@test>` });
    },
  };
}

describe('composeAlertEmail', () => {
  it('returns an e-mail naming the alarm, node, stage, value against threshold, time and next step', () => {
    const email = composeAlertEmail(event());
    expect(email.subject).toBe('[AgentOS dev] high_error_rate on node local');
    expect(email.text).toContain('Node:      local');
    expect(email.text).toContain('Stage:     dev');
    expect(email.text).toContain('Value:     12.50 % of requests (threshold > 5 % of requests)');
    expect(email.text).toContain('When:      2026-03-04T05:06:07.000Z');
    expect(email.text).toContain(`Next:      ${errorRate.next_step}`);
    expect(email.headers[alertIdHeader]).toBe('high_error_rate');
  });

  it('returns an e-mail with the tenant id of a per-tenant alarm and nothing else of the tenant', () => {
    const email = composeAlertEmail(event({ alarm: budget, tenantId: 'acme', value: 3 }));
    expect(email.subject).toContain('tenant_budget_exceeded tenant acme');
    expect(email.text).toContain('Tenant:    acme');
  });

  it('returns an e-mail with no secret, token or credential in it', () => {
    const email = composeAlertEmail(event({ tenantId: 'acme' }));
    const whole = `${email.subject}\n${email.text}\n${JSON.stringify(email.headers)}`;
    expect(whole).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}|password|secret|AKIA[A-Z0-9]{12}|Bearer/i);
  });

  it('returns a test alert that says it is one', () => {
    const email = composeAlertEmail(event({ alarm: testAlarm, test: true }));
    expect(email.subject.startsWith('[TEST] ')).toBe(true);
    expect(email.text).toContain('nothing is wrong');
  });
});

describe('AlertNotifier', () => {
  it('returns sent for the first trigger and deduplicated for repeats inside the window', async () => {
    const clock = new ManualClock();
    const transport = recordingTransport();
    const notifier = new AlertNotifier({
      dedup: new InMemoryAlertDedup(),
      transport,
      clock,
      windowMs: 60_000,
    });
    expect(await notifier.notify(event())).toMatchObject({ sent: true, attempts: 1 });
    clock.advance(30_000);
    expect(await notifier.notify(event())).toEqual({ sent: false, reason: 'deduplicated' });
    clock.advance(30_000);
    expect(await notifier.notify(event())).toMatchObject({ sent: true });
    expect(transport.sent).toHaveLength(2);
  });

  it('returns sent for each tenant of a per-tenant alarm', async () => {
    const transport = recordingTransport();
    const notifier = new AlertNotifier({
      dedup: new InMemoryAlertDedup(),
      transport,
      clock: new ManualClock(),
      windowMs: 60_000,
    });
    await notifier.notify(event({ alarm: budget, tenantId: 'a' }));
    await notifier.notify(event({ alarm: budget, tenantId: 'b' }));
    await notifier.notify(event({ alarm: budget, tenantId: 'a' }));
    expect(transport.sent.map((email) => email.subject)).toEqual([
      expect.stringContaining('tenant a'),
      expect.stringContaining('tenant b'),
    ]);
  });

  it('returns sent after retrying a refused send', async () => {
    const transport = recordingTransport(2);
    const notifier = new AlertNotifier({
      dedup: new InMemoryAlertDedup(),
      transport,
      clock: new ManualClock(),
      windowMs: 60_000,
      maxAttempts: 3,
    });
    expect(await notifier.notify(event())).toMatchObject({ sent: true, attempts: 3 });
  });

  it('throws when every attempt fails, and the next trigger sends again', async () => {
    const transport = recordingTransport(3);
    const notifier = new AlertNotifier({
      dedup: new InMemoryAlertDedup(),
      transport,
      clock: new ManualClock(),
      windowMs: 60_000,
      maxAttempts: 3,
    });
    await expect(notifier.notify(event())).rejects.toBeInstanceOf(AlertDeliveryError);
    expect(await notifier.notify(event())).toMatchObject({ sent: true, attempts: 1 });
  });

  it('throws the send failure, with the failed give-back beside it, when the claim cannot be given back', async () => {
    const inner = new InMemoryAlertDedup();
    const releaseFailure = new Error('table unavailable');
    const dedup = {
      claim: inner.claim.bind(inner),
      release: () => Promise.reject(releaseFailure),
    };
    const notifier = new AlertNotifier({
      dedup,
      transport: recordingTransport(3),
      clock: new ManualClock(),
      windowMs: 60_000,
      maxAttempts: 3,
    });
    const failure = await notifier.notify(event()).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(AlertDeliveryError);
    expect((failure as AlertDeliveryError).message).toContain('421 try again later');
    expect((failure as AlertDeliveryError).cause).toEqual(new Error('421 try again later'));
    expect((failure as AlertDeliveryError).releaseError).toBe(releaseFailure);
  });

  it('returns sent for two test alerts of one millisecond with their own test ids', async () => {
    const transport = recordingTransport();
    const notifier = new AlertNotifier({
      dedup: new InMemoryAlertDedup(),
      transport,
      clock: new ManualClock(),
      windowMs: 60_000,
    });
    await notifier.notify(event({ alarm: testAlarm, test: true, testId: 'a' }));
    await notifier.notify(event({ alarm: testAlarm, test: true, testId: 'b' }));
    expect(transport.sent.map((email) => email.headers[testIdHeader])).toEqual(['a', 'b']);
  });

  it('returns sent for every test alert, never deduplicated', async () => {
    const clock = new ManualClock();
    const transport = recordingTransport();
    const notifier = new AlertNotifier({
      dedup: new InMemoryAlertDedup(),
      transport,
      clock,
      windowMs: 60_000,
    });
    await notifier.notify(event({ alarm: testAlarm, test: true, firedAtMs: clock.now() }));
    clock.advance(1);
    await notifier.notify(event({ alarm: testAlarm, test: true, firedAtMs: clock.now() }));
    expect(transport.sent).toHaveLength(2);
  });
});
