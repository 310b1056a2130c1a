import { describe, expect, it } from 'vitest';
import {
  AlarmDefinitionSchema,
  alarmCatalog,
  alarmIds,
  breaches,
  stageAlarms,
} from '../../../functions/shared/observability/alarm-catalog.ts';
import { NodeConfigSchema } from '../../../cli/config/node-config.ts';

describe('alarm catalog', () => {
  it('returns one valid definition per baseline alarm of HLD §9.3, each id once', () => {
    expect(alarmCatalog.map((alarm) => alarm.id)).toEqual([...alarmIds]);
    for (const alarm of alarmCatalog) expect(AlarmDefinitionSchema.parse(alarm)).toEqual(alarm);
  });

  it('returns definitions whose expressions name only their own metrics', () => {
    for (const alarm of alarmCatalog) {
      const names = alarm.expression?.match(/[A-Za-z][A-Za-z0-9]*/g) ?? alarm.metrics;
      expect(names.every((name) => alarm.metrics.includes(name))).toBe(true);
      expect(alarm.expression !== undefined || alarm.metrics.length === 1).toBe(true);
    }
  });

  it('returns a next step for the operator on every alarm', () => {
    for (const alarm of alarmCatalog) expect(alarm.next_step.length).toBeGreaterThan(10);
  });

  it("returns a stage's thresholds and periods where it overrides them, and leaves out alarms it turns off", () => {
    const alarms = stageAlarms({
      high_error_rate: { threshold: 1, evaluation_periods: 1 },
      tenant_budget_exceeded: { enabled: false },
    });
    expect(alarms.find((alarm) => alarm.id === 'high_error_rate')).toMatchObject({
      threshold: 1,
      evaluation_periods: 1,
    });
    expect(alarms.some((alarm) => alarm.id === 'tenant_budget_exceeded')).toBe(false);
    expect(alarms.find((alarm) => alarm.id === 'service_down')).toEqual(
      alarmCatalog.find((alarm) => alarm.id === 'service_down'),
    );
  });

  it('throws when a node configuration names an unknown alarm or a bad threshold', () => {
    expect(() =>
      NodeConfigSchema.parse({ alerts: { thresholds: { disk_full: { threshold: 1 } } } }),
    ).toThrow();
    expect(() =>
      NodeConfigSchema.parse({ alerts: { thresholds: { service_down: { evaluation_periods: 0 } } } }),
    ).toThrow();
    expect(
      NodeConfigSchema.parse({ alerts: { thresholds: { dlq_not_empty: { threshold: 5 } } } }).alerts
        .thresholds,
    ).toEqual({ dlq_not_empty: { threshold: 5 } });
  });

  it('returns whether a value breaches for each comparison', () => {
    expect(breaches({ comparison: '>', threshold: 5 }, 5)).toBe(false);
    expect(breaches({ comparison: '>=', threshold: 5 }, 5)).toBe(true);
    expect(breaches({ comparison: '<', threshold: 1 }, 0)).toBe(true);
    expect(breaches({ comparison: '<=', threshold: 1 }, 2)).toBe(false);
  });
});
