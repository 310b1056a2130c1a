import type { MetricUnit } from '@aws-lambda-powertools/metrics/types';
import { metricServices } from './metric-definitions.ts';
import type { MetricDimensionName } from './metric-definitions.ts';

/**
 * The bounded label policy of every global metric (HLD §9.2), and the hand-off of data points to
 * the local Prometheus mirror (local-metrics.ts) when the process has one: a local node installs it,
 * a Lambda function never loads it (nor prom-client).
 */

/**
 * The route operation ids the services declared: the only values the `operation` label takes. Code
 * constants registered by the HTTP core at start, so the set is bounded by the route registries.
 */
const declaredOperations = new Set<string>(['unmatched']);

/** Registers declared route operation ids as values the `operation` label may take. */
export function declareOperations(operationIds: Iterable<string>): void {
  for (const id of operationIds) declaredOperations.add(id);
}

/**
 * Label names a global metric may carry, each with the values it may take. Global metrics must not
 * be keyed by a tenant, run or principal (HLD §9.2): any other name, or a value outside its set,
 * throws where it is recorded, so an unbounded label cannot reach CloudWatch or Prometheus.
 */
export const allowedMetricLabels = {
  service: new Set<string>(metricServices),
  operation: declaredOperations,
} as const satisfies Record<MetricDimensionName, ReadonlySet<string>>;

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

/** A data point's finer dimensions (its operation); `service` is passed on its own. */
export type MetricLabels = Partial<Record<Exclude<MetricDimensionName, 'service'>, string>>;

/** Takes a data point whose labels are already checked. */
export type MetricMirror = (
  service: string,
  name: string,
  unit: MetricUnit,
  value: number,
  labels: MetricLabels,
) => void;

/** One mirror per process, on `globalThis` since bundled handlers each have a copy of this module. */
const mirrorSlot = globalThis as { [key: symbol]: MetricMirror | undefined };
const mirrorKey = Symbol.for('agentos.local-metrics.mirror');

/** Makes `mirror` receive every data point recorded from now on, in this process. */
export function installMetricMirror(mirror: MetricMirror): void {
  mirrorSlot[mirrorKey] = mirror;
}

/**
 * Checks a data point's labels against the allow-list (throwing as {@link assertBoundedLabel} does)
 * and hands it to the process's local mirror, when it has one.
 */
export function recordMetricPoint(
  service: string,
  name: string,
  unit: MetricUnit,
  value: number,
  labels: MetricLabels = {},
): void {
  assertBoundedLabel('service', service);
  for (const [label, labelValue] of Object.entries(labels)) assertBoundedLabel(label, labelValue);
  mirrorSlot[mirrorKey]?.(service, name, unit, value, labels);
}
