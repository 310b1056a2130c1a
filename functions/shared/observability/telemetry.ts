import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Dimensions, MetricResolution, MetricUnit } from '@aws-lambda-powertools/metrics/types';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { assertBoundedLabel, mirrorMetric } from './local-metrics.ts';

/** Structured logger, tracer and metrics of one service. */
export type Telemetry = { logger: Logger; tracer: Tracer; metrics: Metrics };

/**
 * Powertools metrics that also mirror every data point into the local Prometheus registry (served
 * by a local node at `GET /metrics`) and refuse dimensions outside the bounded allow-list (HLD §9.2).
 */
class BoundedMetrics extends Metrics {
  readonly #service: string;

  constructor(service: string) {
    super({ serviceName: service, namespace: 'AgentOS' });
    this.#service = service;
  }

  override addMetric(name: string, unit: MetricUnit, value: number, resolution?: MetricResolution): this {
    super.addMetric(name, unit, value, resolution);
    mirrorMetric(this.#service, name, unit, value);
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
}

/**
 * Creates the Powertools trio for a service. Metrics are global (no tenant dimension, HLD §9.2);
 * tenant and run ids go into log keys and trace annotations instead.
 */
export function createTelemetry(serviceName: string): Telemetry {
  return {
    logger: new Logger({ serviceName }),
    tracer: new Tracer({ serviceName }),
    metrics: new BoundedMetrics(serviceName),
  };
}
