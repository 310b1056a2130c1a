import type { MetricUnit } from '@aws-lambda-powertools/metrics/types';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { metricDefinition } from './metric-definitions.ts';
import type { MetricDimensionName } from './metric-definitions.ts';
import { assertBoundedLabel, installMetricMirror } from './metric-labels.ts';
import type { MetricLabels } from './metric-labels.ts';

export { allowedMetricLabels, assertBoundedLabel, declareOperations } from './metric-labels.ts';
export type { MetricLabelName } from './metric-labels.ts';

type Mirrored =
  | { kind: 'counter'; instrument: Counter<MetricDimensionName> }
  | { kind: 'gauge'; instrument: Gauge<MetricDimensionName> }
  | { kind: 'histogram'; instrument: Histogram<MetricDimensionName> };

type LocalMetricsState = {
  registry: Registry;
  mirrored: Map<string, Mirrored>;
  refused: Counter | undefined;
  warned: Set<string>;
};

/**
 * One registry per process, kept on `globalThis` with its instruments because a node may load
 * bundled handlers, each with its own copy of this module and of prom-client.
 */
const state = ((globalThis as Record<symbol, LocalMetricsState>)[Symbol.for('agentos.local-metrics.v2')] ??= {
  registry: new Registry(),
  mirrored: new Map(),
  refused: undefined,
  warned: new Set(),
});

/**
 * The metrics a local node serves at `GET /metrics` in the Prometheus text format: the same names
 * the Lambdas publish as EMF, mirrored as they are recorded (HLD §9.1). A local node hosts both
 * services in one process and tells them apart by the `service` label.
 */
export const localMetricsRegistry: Registry = state.registry;

/**
 * The most instruments the local registry creates. The declared metrics are far fewer; the cap
 * holds even if a caller names metrics from data, so the registry stays bounded (HLD §9.2).
 */
export const maxLocalInstruments = 100;

/** The local-only counter of data points the registry refused (undeclared metric, cap reached). */
export const refusedMetricName = 'LocalMetricsRefused';

/** Counts a refused data point and warns once per metric name (the warnings are bounded too). */
function refuse(name: string, reason: string): undefined {
  state.refused ??= new Counter({
    name: refusedMetricName,
    help: 'Data points the local registry refused: undeclared metric, unit mismatch or instrument cap',
    registers: [state.registry],
  });
  state.refused.inc();
  if (state.warned.size < maxLocalInstruments && !state.warned.has(name)) {
    state.warned.add(name);
    console.warn(JSON.stringify({ level: 'WARN', message: 'local metric refused', metric: name, reason }));
  }
  return undefined;
}

function instrumentFor(name: string, unit: MetricUnit): Mirrored | undefined {
  const existing = state.mirrored.get(name);
  if (existing !== undefined) return existing;
  const definition = metricDefinition(name);
  if (definition === undefined) return refuse(name, 'not declared in metric-definitions.ts');
  if (definition.unit !== unit) return refuse(name, `declared unit ${definition.unit}, recorded ${unit}`);
  if (state.mirrored.size >= maxLocalInstruments) return refuse(name, 'instrument cap reached');
  const common = {
    name,
    help: `${definition.help} (${unit}), as published in EMF`,
    labelNames: [...new Set(definition.dimensionSets.flat())],
    registers: [state.registry],
  };
  const mirrored: Mirrored =
    definition.gauge === true
      ? { kind: 'gauge', instrument: new Gauge(common) }
      : unit === 'Milliseconds'
        ? {
            kind: 'histogram',
            instrument: new Histogram({
              ...common,
              buckets: [5, 25, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000],
            }),
          }
        : unit === 'Count'
          ? { kind: 'counter', instrument: new Counter(common) }
          : { kind: 'gauge', instrument: new Gauge(common) };
  state.mirrored.set(name, mirrored);
  return mirrored;
}

/**
 * Records one EMF data point in the local registry, under its EMF name. `service` is the name a
 * composition root gives its telemetry (a constant of the code, never a request's value), as the
 * EMF `service` dimension is; `labels` are the metric's finer dimensions (its operation). A label
 * outside the allow-list throws; an undeclared metric, a unit other than the declared one, or a new
 * metric beyond {@link maxLocalInstruments} is refused, counted in {@link refusedMetricName} and logged.
 */
export function mirrorMetric(
  service: string,
  name: string,
  unit: MetricUnit,
  value: number,
  labels: MetricLabels = {},
): void {
  assertBoundedLabel('service', service);
  for (const [label, labelValue] of Object.entries(labels)) assertBoundedLabel(label, labelValue);
  record(service, name, unit, value, labels);
}

/** Records a data point whose labels its caller has checked against its own allow-list. */
function record(service: string, name: string, unit: MetricUnit, value: number, labels: MetricLabels): void {
  const mirrored = instrumentFor(name, unit);
  if (mirrored === undefined) return;
  const all = { service, ...labels };
  if (mirrored.kind === 'counter') mirrored.instrument.inc(all, value);
  else if (mirrored.kind === 'histogram') mirrored.instrument.observe(all, value);
  else mirrored.instrument.set(all, value);
}

// Importing this module is what makes a process mirror its metrics (a local node does; a Lambda never
// loads prom-client): telemetry.ts records through metric-labels.ts, which hands each point here.
installMetricMirror(record);
