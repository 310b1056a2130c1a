import { afterEach, describe, expect, it, vi } from 'vitest';
import { healthHandler, healthRoute } from '../../../functions/shared/http/health-route.ts';
import type { BoundRoute } from '../../../functions/shared/http/bound-route.ts';
import type { RouteInput } from '../../../functions/shared/http/bound-route.ts';
import { createHttpApp } from '../../../functions/shared/http/http-app.ts';
import { localMetricsRegistry } from '../../../functions/shared/observability/local-metrics.ts';
import { metricDefinitions } from '../../../functions/shared/observability/metric-definitions.ts';
import type { MetricName } from '../../../functions/shared/observability/metric-definitions.ts';
import { createTelemetry } from '../../../functions/shared/observability/telemetry.ts';
import type { Telemetry } from '../../../functions/shared/observability/telemetry.ts';
import type { AdmissionPort } from '../../../functions/shared/tenancy/admission-port.ts';
import type { JwtVerifier } from '../../../functions/shared/auth/jwt-verifier.ts';

type EmfDocument = {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
} & Record<string, unknown>;

/** The EMF documents Powertools printed while `work` ran. */
async function emfWrittenBy(work: () => Promise<void>): Promise<EmfDocument[]> {
  const written: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((line: unknown) => {
    written.push(String(line));
  });
  vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array) => {
    written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  }) as typeof process.stdout.write);
  try {
    await work();
  } finally {
    spy.mockRestore();
    vi.restoreAllMocks();
  }
  return written
    .flatMap((chunk) => chunk.split('\n'))
    .filter((line) => line.startsWith('{"_aws"'))
    .map((line) => JSON.parse(line) as EmfDocument);
}

function appWith(telemetry: Telemetry, routes: BoundRoute[]) {
  return createHttpApp({
    service: 'model-policy',
    operatorTenantId: 'operator',
    routes,
    verifier: {} as JwtVerifier,
    admission: {} as AdmissionPort,
    telemetry,
    maxBodyBytes: 1024,
  });
}

const failingRoute: BoundRoute = {
  spec: { ...healthRoute, operationId: 'getBroken', path: '/v1/broken' },
  handle: () => Promise.reject(new Error('boom')),
};

function telemetryWithMetricsOn(): Telemetry {
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  const telemetry = createTelemetry('model-policy');
  vi.unstubAllEnvs();
  return telemetry;
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('request metrics', () => {
  it('returns Requests, ServerErrors and RequestLatencyMs by service and by declared operation, never by path', async () => {
    const telemetry = telemetryWithMetricsOn();
    const app = appWith(telemetry, [
      { spec: healthRoute, handle: healthHandler('model-policy') as (input: RouteInput) => never },
      failingRoute,
    ]);
    const documents = await emfWrittenBy(async () => {
      expect((await app.fetch(new Request('http://node/v1/health'))).status).toBe(200);
      expect((await app.fetch(new Request('http://node/v1/broken'))).status).toBe(500);
      expect((await app.fetch(new Request('http://node/v1/tenants/acme/secret'))).status).toBe(404);
      telemetry.metrics.publishStoredMetrics();
    });
    const requests = documents.filter((document) => 'Requests' in document);
    expect(requests.map((document) => [document['operation'], document['ServerErrors']])).toEqual([
      ['getHealth', 0],
      ['getBroken', 1],
      ['unmatched', 0],
    ]);
    for (const document of requests) {
      const [emf] = document._aws.CloudWatchMetrics;
      expect(emf?.Namespace).toBe('AgentOS');
      expect(emf?.Dimensions).toEqual(metricDefinitions.Requests.dimensionSets);
      expect(emf?.Metrics.map((metric) => metric.Name).sort()).toEqual(
        ['RequestLatencyMs', 'Requests', 'ServerErrors'].sort(),
      );
      expect(document['service']).toBe('model-policy');
    }
    const buffered = documents.find((document) => 'HealthyChecks' in document);
    expect(buffered?.['HealthyChecks']).toBe(1);
    expect(buffered?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['service']]);
    expect(JSON.stringify(documents)).not.toContain('acme');
  });

  it('returns the same names with service and operation labels on the local /metrics', async () => {
    const app = appWith(createTelemetry('model-policy'), [
      { spec: healthRoute, handle: healthHandler('model-policy') as (input: RouteInput) => never },
    ]);
    await app.fetch(new Request('http://node/v1/health'));
    const text = await localMetricsRegistry.metrics();
    expect(text).toMatch(/^Requests\{service="model-policy",operation="getHealth"\} [1-9]/m);
    expect(text).toMatch(/^RequestLatencyMs_count\{service="model-policy",operation="getHealth"\} [1-9]/m);
    expect(text).toMatch(/^HealthyChecks\{service="model-policy"\} [1-9]/m);
  });

  it('throws when an operation label would take a tenant or run id', () => {
    const { metrics } = createTelemetry('model-policy');
    for (const value of ['acme', 'run_01J9ZQ5M6T', '/v1/runs/run_01J9ZQ5M6T'])
      expect(() => metrics.recordRequest({ operation: value, latencyMs: 1, serverError: false })).toThrow(
        /unlisted value/,
      );
  });

  it('throws when code records a metric that metric-definitions.ts does not declare as it is recorded', () => {
    const { metrics } = createTelemetry('model-policy');
    expect(() => metrics.addMetric('TenantAcmeCalls' as MetricName, 'Count', 1)).toThrow(/not declared/);
    expect(() => metrics.addMetric('ModelCalls', 'Seconds', 1)).toThrow(/declared in Count/);
    expect(() => metrics.addMetric('Requests', 'Count', 1)).toThrow(/finer dimensions/);
  });
});
