// First: the X-Ray SDK reads its context mode when it loads, through the tracer below.
import './xray-context-mode.ts';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Dimensions, MetricResolution, MetricUnit } from '@aws-lambda-powertools/metrics/types';
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { EnvSource } from '../config/env.ts';
import { assertBoundedLabel, recordMetricPoint } from './metric-labels.ts';
import { telemetryEnv, unknownNodeId } from './telemetry-env.ts';
import { metricDefinition, metricDefinitions, metricNamespace } from './metric-definitions.ts';
import type { MetricName, MetricService } from './metric-definitions.ts';

/** What one API request adds to the request metrics (HLD §9.1). */
export type RequestMeasurement = {
  /** The declared route's operation id, `unmatched` when no route matched: never a raw path. */
  operation: string;
  latencyMs: number;
  serverError: boolean;
};

/** True when the dimension sets are exactly `[['service']]`, the set the buffered metrics carry. */
function byServiceOnly(sets: readonly (readonly string[])[]): boolean {
  return sets.length === 1 && sets[0]!.length === 1 && sets[0]![0] === 'service';
}

/**
 * Powertools metrics that emit only the metrics of metric-definitions.ts, with their declared unit
 * and dimension sets, mirror every data point into the local Prometheus registry (served by a local
 * node at `GET /metrics`) and refuse dimensions outside the bounded allow-list (HLD §9.2). Powertools
 * adds the `service` dimension to every data point; the buffered metrics carry it alone.
 */
export class ServiceMetrics extends Metrics {
  readonly #service: MetricService;
  /** The request metrics' own EMF records, configured (enabled or not) as this instance is. */
  readonly #requests: Metrics;

  constructor(service: MetricService) {
    super({ serviceName: service, namespace: metricNamespace });
    this.#service = service;
    this.#requests = new Metrics({ serviceName: service, namespace: metricNamespace });
  }

  /**
   * Buffers a declared metric (its name is checked when compiled too). Throws when `name` is
   * undeclared, declared with another unit, or has finer dimensions than the service alone.
   */
  override addMetric(name: MetricName, unit: MetricUnit, value: number, resolution?: MetricResolution): this {
    const definition = metricDefinition(name);
    if (definition === undefined) throw new Error(`metric ${name} is not declared in metric-definitions.ts`);
    if (definition.unit !== unit) throw new Error(`metric ${name} is declared in ${definition.unit}`);
    if (!byServiceOnly(definition.dimensionSets))
      throw new Error(`metric ${name} has finer dimensions: record it with its own method`);
    super.addMetric(name, unit, value, resolution);
    recordMetricPoint(this.#service, name, unit, value);
    return this;
  }

  /**
   * Publishes the buffered metrics; with none, only forgets the invocation's dimensions and metadata.
   * An API invocation often buffers nothing (its request metrics go out on their own), and
   * Powertools would otherwise log a warning for every such invocation.
   */
  override publishStoredMetrics(): this {
    if (this.hasStoredMetrics()) return super.publishStoredMetrics();
    this.clearDimensions();
    this.clearMetadata();
    return this;
  }

  override addDimension(name: string, value: string): this {
    assertBoundedLabel(name, value);
    return super.addDimension(name, value);
  }

  override addDimensions(dimensions: Dimensions): this {
    for (const [name, value] of Object.entries(dimensions)) assertBoundedLabel(name, value);
    return super.addDimensions(dimensions);
  }

  /**
   * Records one answered request: `Requests`, `ServerErrors` (0 or 1, so the error rate always has
   * a denominator and a numerator) and `RequestLatencyMs`, each under the service alone (what the
   * alarms read) and under the service and operation. Published at once as one EMF record of its
   * own, so these dimensions never reach the other metrics buffered in the invocation (synchronous:
   * concurrent requests of a local node cannot interleave their records).
   */
  recordRequest(measurement: RequestMeasurement): void {
    assertBoundedLabel('operation', measurement.operation);
    const record = this.#requests;
    // The empty set is the service alone (Powertools adds the default `service` to every set).
    record.addDimensions({});
    record.addDimensions({ operation: measurement.operation });
    const values = {
      Requests: 1,
      ServerErrors: measurement.serverError ? 1 : 0,
      RequestLatencyMs: measurement.latencyMs,
    } as const;
    for (const [name, value] of Object.entries(values) as [keyof typeof values, number][]) {
      const { unit } = metricDefinitions[name];
      record.addMetric(name, unit, value);
      recordMetricPoint(this.#service, name, unit, value, { operation: measurement.operation });
    }
    record.publishStoredMetrics();
  }

  /** Sets a gauge of metric-definitions.ts (a level, e.g. open event streams) to `value`. */
  setGauge(name: 'SseConnectionsOpen', value: number): void {
    this.addMetric(name, metricDefinitions[name].unit, value);
  }
}

/** Structured logger, tracer and metrics of one service. */
export type Telemetry = { logger: Logger; tracer: Tracer; metrics: ServiceMetrics };

/**
 * Creates the Powertools trio for a service. Metrics are global (no tenant dimension, HLD §9.2);
 * tenant and run ids go into log keys and trace annotations instead. Every log line carries the
 * node's id and the service's name.
 */
export function createTelemetry(serviceName: MetricService, env: EnvSource = process.env): Telemetry {
  const nodeId = telemetryEnv.parse(env).AGENTOS_NODE_ID ?? unknownNodeId;
  return {
    logger: new Logger({ serviceName, persistentKeys: { node_id: nodeId } }),
    tracer: new Tracer({ serviceName }),
    metrics: new ServiceMetrics(serviceName),
  };
}
