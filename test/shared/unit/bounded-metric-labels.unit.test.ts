import { describe, expect, it } from 'vitest';
import { createTelemetry } from '../../../functions/shared/observability/telemetry.ts';

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
  });
});
