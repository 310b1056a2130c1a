import { describe, expect, it, vi } from 'vitest';
import {
  localMetricsRegistry,
  maxLocalInstruments,
  mirrorMetric,
  refusedMetricName,
} from '../../../functions/shared/observability/local-metrics.ts';
import { metricDefinitions } from '../../../functions/shared/observability/metric-definitions.ts';
import { createTelemetry } from '../../../functions/shared/observability/telemetry.ts';

async function refusedCount(): Promise<number> {
  const metric = localMetricsRegistry.getSingleMetric(refusedMetricName);
  if (metric === undefined) return 0;
  const { values } = await metric.get();
  return values.reduce((sum, value) => sum + value.value, 0);
}

describe('global metric labels', () => {
  it('throws when a dimension could carry a tenant id, run id or principal', () => {
    const { metrics } = createTelemetry('model-policy');
    for (const name of ['tenant_id', 'tenantId', 'run_id', 'principal', 'sub']) {
      expect(() => metrics.addDimension(name, 'acme')).toThrow(/not allow-listed/);
      expect(() => metrics.addDimensions({ [name]: 'acme' })).toThrow(/not allow-listed/);
    }
  });

  it('throws when an allow-listed label takes a value outside its bounded set', () => {
    const { metrics } = createTelemetry('model-policy');
    expect(() => metrics.addDimension('service', 'acme')).toThrow(/unlisted value/);
    expect(() => metrics.addDimension('operation', 'acme')).toThrow(/unlisted value/);
  });

  it('throws when the local mirror is given a service or operation label outside its bounded set', () => {
    expect(() => mirrorMetric('acme', 'ModelCalls', 'Count', 1)).toThrow(/unlisted value/);
    expect(() =>
      mirrorMetric('model-policy', 'Requests', 'Count', 1, { operation: '/v1/runs/run_01J9' }),
    ).toThrow(/unlisted value/);
  });
});

describe('the local metrics registry', () => {
  it('returns no instrument for an undeclared metric or a unit mismatch, and counts and logs the refusal', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const before = await refusedCount();
    mirrorMetric('model-policy', 'CallsOfTenantAcme', 'Count', 1);
    mirrorMetric('model-policy', 'BudgetRefusals', 'Seconds', 1);
    expect(await refusedCount()).toBe(before + 2);
    expect(localMetricsRegistry.getSingleMetric('CallsOfTenantAcme')).toBeUndefined();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('CallsOfTenantAcme'));
    warn.mockRestore();
  });

  it('returns room under its instrument cap for every declared metric', () => {
    expect(Object.keys(metricDefinitions).length).toBeLessThan(maxLocalInstruments);
  });
});
