import { MetricUnit as Unit } from '@aws-lambda-powertools/metrics';
import type { MetricUnit } from '@aws-lambda-powertools/metrics/types';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

type Mirrored =
  | { kind: 'counter'; instrument: Counter<'service'> }
  | { kind: 'gauge'; instrument: Gauge<'service'> }
  | { kind: 'histogram'; instrument: Histogram<'service'> };

/**
 * One registry per process, kept on `globalThis` with its instruments because a node may load
 * bundled handlers, each with its own copy of this module and of prom-client.
 */
const state = ((globalThis as Record<symbol, { registry: Registry; mirrored: Map<string, Mirrored> }>)[
  Symbol.for('agentos.local-metrics')
] ??= { registry: new Registry(), mirrored: new Map() });

/**
 * The metrics a local node serves at `GET /metrics` in the Prometheus text format: the same names
 * the Lambdas publish as EMF, mirrored as they are recorded (HLD §9.1). A local node hosts both
 * services in one process and tells them apart by the `service` label.
 */
export const localMetricsRegistry: Registry = state.registry;

/**
 * Label names a global metric may carry, each with the values it may take. Global metrics must not
 * be keyed by a tenant, run or principal (HLD §9.2): any other name, or a value outside its set,
 * throws where it is recorded, so an unbounded label cannot reach CloudWatch or Prometheus.
 */
export const allowedMetricLabels = {
  service: new Set(['agent-orchestrator', 'model-policy']),
} as const satisfies Record<string, ReadonlySet<string>>;

/** The label names {@link allowedMetricLabels} allows. */
export type MetricLabelName = keyof typeof allowedMetricLabels;

/** Throws when a label name is not allow-listed or its value is outside the name's bounded set. */
export function assertBoundedLabel(name: string, value: string): void {
  const values = (allowedMetricLabels as Record<string, ReadonlySet<string> | undefined>)[name];
  if (values === undefined) {
    throw new Error(`metric label "${name}" is not allow-listed; global metrics have bounded labels only`);
  }
  if (!values.has(value)) throw new Error(`metric label ${name} may not take an unlisted value`);
}

function instrumentFor(name: string, unit: MetricUnit): Mirrored {
  const existing = state.mirrored.get(name);
  if (existing !== undefined) return existing;
  const common = {
    name,
    help: `${name} (${unit}), as published in EMF`,
    labelNames: ['service'] as const,
    registers: [state.registry],
  };
  const mirrored: Mirrored =
    unit === Unit.Count
      ? { kind: 'counter', instrument: new Counter(common) }
      : unit === Unit.Milliseconds
        ? {
            kind: 'histogram',
            instrument: new Histogram({
              ...common,
              buckets: [5, 25, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000],
            }),
          }
        : { kind: 'gauge', instrument: new Gauge(common) };
  state.mirrored.set(name, mirrored);
  return mirrored;
}

/**
 * Records one EMF data point in the local registry, under its EMF name. `service` is the name a
 * composition root gives its telemetry (a constant of the code, never a request's value), as the
 * EMF `service` dimension is.
 */
export function mirrorMetric(service: string, name: string, unit: MetricUnit, value: number): void {
  const mirrored = instrumentFor(name, unit);
  const labels = { service };
  if (mirrored.kind === 'counter') mirrored.instrument.inc(labels, value);
  else if (mirrored.kind === 'histogram') mirrored.instrument.observe(labels, value);
  else mirrored.instrument.set(labels, value);
}
