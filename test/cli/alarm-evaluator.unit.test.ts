import { describe, expect, it } from 'vitest';
import { stageAlarms } from '../../functions/shared/observability/alarm-catalog.ts';
import { InMemoryAlertDedup } from '../../functions/shared/observability/alert-dedup-port.ts';
import { AlertNotifier } from '../../functions/shared/observability/alert-notifier.ts';
import type { AlertEmail } from '../../functions/shared/observability/alert-notifier.ts';
import { AlarmEvaluator } from '../../cli/local/alarm-evaluator.ts';
import type { AlarmSample } from '../../cli/local/alarm-evaluator.ts';
import { countLogLines, p95 } from '../../cli/local/local-signals.ts';
import { ManualClock } from '../support/manual-clock.ts';

/** An evaluator over scripted periods, e-mailing into a list, on a manual clock. */
function harness(periods: AlarmSample[][], windowMs = 600_000, maxStreaks?: number) {
  const clock = new ManualClock();
  const sent: AlertEmail[] = [];
  const notifier = new AlertNotifier({
    dedup: new InMemoryAlertDedup(),
    transport: {
      send: (email) => {
        sent.push(email);
        return Promise.resolve({ messageId: `<${sent.length}@test>` });
      },
    },
    clock,
    windowMs,
  });
  let period = 0;
  const evaluator = new AlarmEvaluator({
    alarms: stageAlarms({ high_error_rate: { evaluation_periods: 2 } }),
    source: { read: () => Promise.resolve(periods[period++] ?? []) },
    notifier,
    clock,
    nodeId: 'local',
    stage: 'dev',
    ...(maxStreaks === undefined ? {} : { maxStreaks }),
  });
  return { clock, sent, evaluator };
}

const errors = (value: number | undefined): AlarmSample[] => [{ alarmId: 'high_error_rate', value }];

describe('AlarmEvaluator', () => {
  it('returns fired only once the evaluation periods breached in a row', async () => {
    const { evaluator, sent } = harness([errors(50), errors(1), errors(50), errors(50)]);
    const fired = [];
    for (let i = 0; i < 4; i += 1) fired.push((await evaluator.evaluate())[0]?.fired);
    expect(fired).toEqual([false, false, false, true]);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.text).toContain('Value:     50 % of requests');
  });

  it('returns one e-mail while the alarm keeps breaching inside the window, and another after it', async () => {
    const { evaluator, sent, clock } = harness(
      Array.from({ length: 8 }, () => errors(50)),
      120_000,
    );
    for (let i = 0; i < 8; i += 1) {
      await evaluator.evaluate();
      clock.advance(30_000);
    }
    // Fires from the second period on (t = 30 s); the window of 120 s lets one more out at t = 150 s.
    expect(sent).toHaveLength(2);
  });

  it('returns a period without data counted as its missing-data rule says', async () => {
    const { evaluator, sent } = harness([
      [{ alarmId: 'service_down', value: undefined }],
      [{ alarmId: 'service_down', value: undefined }],
      errors(undefined),
      errors(undefined),
    ]);
    const decisions = [];
    for (let i = 0; i < 4; i += 1) decisions.push(...(await evaluator.evaluate()));
    expect(decisions.map((d) => [d.alarmId, d.fired])).toEqual([
      ['service_down', false],
      ['service_down', true],
      ['high_error_rate', false],
      ['high_error_rate', false],
    ]);
    expect(sent.map((email) => email.subject)).toEqual(['[AgentOS dev] service_down on node local']);
  });

  it('returns a per-tenant alarm fired for each tenant that breached', async () => {
    const { evaluator, sent } = harness([
      [
        { alarmId: 'tenant_budget_exceeded', value: 2, tenantId: 'acme' },
        { alarmId: 'tenant_budget_exceeded', value: 0, tenantId: 'globex' },
      ],
    ]);
    await evaluator.evaluate();
    expect(sent.map((email) => email.subject)).toEqual([
      '[AgentOS dev] tenant_budget_exceeded tenant acme on node local',
    ]);
  });

  it('returns a new alarm fired after its evaluation periods when the streak map is full, evicting the stalest streak', async () => {
    const budget = (tenantId: string): AlarmSample => ({
      alarmId: 'tenant_budget_exceeded',
      value: 1,
      tenantId,
    });
    const { evaluator, sent } = harness([[budget('acme')], errors(50), errors(50)], 600_000, 1);
    const fired = [];
    for (let i = 0; i < 3; i += 1) fired.push((await evaluator.evaluate())[0]?.fired);
    expect(fired).toEqual([true, false, true]);
    expect(sent.map((email) => email.subject)).toEqual([
      '[AgentOS dev] tenant_budget_exceeded tenant acme on node local',
      '[AgentOS dev] high_error_rate on node local',
    ]);
    expect(evaluator.evictions).toBe(1);
    expect(evaluator.streaks).toBe(1);
  });

  it('returns a streak kept while it is updated, evicting the one updated least recently', async () => {
    const budget = (tenantId: string): AlarmSample => ({
      alarmId: 'tenant_budget_exceeded',
      value: 1,
      tenantId,
    });
    const { evaluator } = harness(
      [[errors(50)[0]!, budget('acme')], [errors(50)[0]!, budget('globex')], errors(50)],
      600_000,
      2,
    );
    const decisions = [];
    for (let i = 0; i < 3; i += 1) decisions.push(...(await evaluator.evaluate()));
    // The error-rate streak was updated every period, so acme's (the stalest) made room for globex.
    expect(decisions.filter((d) => d.alarmId === 'high_error_rate').map((d) => d.breaching)).toEqual([
      1, 2, 3,
    ]);
    expect(evaluator.evictions).toBe(1);
  });

  it('returns from run once stopped, having evaluated once a period', async () => {
    const { evaluator, clock } = harness(Array.from({ length: 10 }, () => errors(0)));
    const stop = new AbortController();
    const periods: number[] = [];
    const running = evaluator.run(30_000, stop.signal, () => {
      periods.push(clock.now());
      if (periods.length === 3) stop.abort();
    });
    await running;
    expect(periods.map((at) => at - (periods[0] ?? 0))).toEqual([0, 30_000, 60_000]);
  });
});

describe('countLogLines', () => {
  it('returns requests, server errors, latencies, model failures and budget refusals from the node log', () => {
    const lines = [
      '{"level":"INFO","message":"request served","api":"orchestrator","status":200,"latency_ms":12,"streaming":false}',
      '{"level":"INFO","message":"request served","api":"orchestrator","status":502,"latency_ms":40,"streaming":false}',
      '{"level":"INFO","message":"request served","api":"orchestrator","status":200,"latency_ms":90000,"streaming":true}',
      '{"level":"WARN","message":"no model backend answered","reason":"status","status":500}',
      '{"level":"INFO","message":"request rejected","error_code":"budget_exceeded","status":429,"tenant_id":"acme"}',
      '{"level":"ERROR","message":"request failed","error":{"name":"ProvisionedThroughputExceededException"}}',
      'step poller error not json',
    ];
    const counts = countLogLines(lines);
    expect(counts).toMatchObject({ requests: 3, serverErrors: 1, modelCallsFailed: 1, storageThrottles: 1 });
    expect(counts.latenciesMs).toEqual([12, 40]);
    expect([...counts.budgetRefusals]).toEqual([['acme', 1]]);
  });

  it('returns no request for a health check, which is the service_down signal and not client traffic', () => {
    const counts = countLogLines([
      '{"level":"INFO","message":"request served","operation":"getHealth","status":200,"duration_ms":3}',
      '{"level":"INFO","message":"request served","operation":"getRun","status":500,"duration_ms":9}',
    ]);
    expect(counts).toMatchObject({ requests: 1, serverErrors: 1 });
  });

  it('returns the nearest-rank 95th percentile', () => {
    expect(p95([])).toBeUndefined();
    expect(p95(Array.from({ length: 100 }, (_, i) => i + 1))).toBe(95);
    expect(p95([7])).toBe(7);
  });
});
