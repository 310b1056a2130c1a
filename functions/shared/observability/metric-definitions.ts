import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricUnit as Unit } from '@aws-lambda-powertools/metrics/types';

/**
 * The node's own metrics (namespace `AgentOS`), declared once: the services emit exactly these names,
 * units and dimension sets (EMF on AWS, mirrored into the local Prometheus registry), and the AWS
 * alarms and dashboard (infra/constructs/node-alarms.ts) read them by the same names and dimensions.
 * Metrics are global (HLD §9.2): no dimension takes a tenant, run or principal.
 */

/** The services that emit metrics; the `service` dimension Powertools adds to every metric. */
export const metricServices = ['agent-orchestrator', 'model-policy', 'alert-notifier'] as const;

/** A service that emits metrics. */
export type MetricService = (typeof metricServices)[number];

/** The namespace of the node's own metrics. */
export const metricNamespace = 'AgentOS';

/**
 * Dimension names a metric may carry. `operation` is a declared route's operation id (never a raw
 * path), `unmatched` for a request no route matched.
 */
export const metricDimensionNames = ['service', 'operation'] as const;

/** A dimension name of {@link metricDimensionNames}. */
export type MetricDimensionName = (typeof metricDimensionNames)[number];

/** One metric: its unit, the services emitting it and the dimension sets each data point has. */
export type MetricDefinition = {
  unit: Unit;
  /**
   * Every set is a CloudWatch metric of its own; the first is always `service` alone, the one the
   * alarms read, and a finer set (by operation) serves dashboards and the local `/metrics`.
   */
  dimensionSets: readonly (readonly MetricDimensionName[])[];
  services: readonly MetricService[];
  help: string;
  /** A level rather than a count: the local registry keeps its last value (a Prometheus gauge). */
  gauge?: true;
  /**
   * Published only to the local `/metrics` (sampled by the local node); on AWS the alarms and the
   * dashboard read the AWS service's own metric instead (`AWS/SQS`).
   */
  localOnly?: true;
};

const both = ['agent-orchestrator', 'model-policy'] as const;
const alertNotifier = ['alert-notifier'] as const;
const orchestrator = ['agent-orchestrator'] as const;
const modelPolicy = ['model-policy'] as const;
const byService = [['service']] as const;
const byOperation = [['service'], ['service', 'operation']] as const;

const counter = (services: readonly MetricService[], help: string): MetricDefinition => ({
  unit: MetricUnit.Count,
  dimensionSets: byService,
  services,
  help,
});

/** Every metric the services emit (HLD §9.1), by name. */
export const metricDefinitions = {
  Requests: {
    unit: MetricUnit.Count,
    dimensionSets: byOperation,
    services: both,
    help: 'API requests answered, by operation',
  },
  ServerErrors: {
    unit: MetricUnit.Count,
    dimensionSets: byOperation,
    services: both,
    help: 'API requests answered with a server error (5xx), by operation',
  },
  RequestLatencyMs: {
    unit: MetricUnit.Milliseconds,
    dimensionSets: byOperation,
    services: both,
    help: 'Time to answer an API request (to its first byte when streamed), by operation',
  },
  HealthyChecks: counter(both, 'Successful liveness checks (GET /v1/health)'),
  StorageThrottles: counter(
    both,
    'DynamoDB calls refused for throughput (throttled) or item size, each attempt counted',
  ),
  SseConnectionsOpen: {
    unit: MetricUnit.Count,
    dimensionSets: byService,
    services: orchestrator,
    help: 'Server-sent event streams open in this process',
    gauge: true,
  },
  StepQueueDepth: {
    unit: MetricUnit.Count,
    dimensionSets: byService,
    services: orchestrator,
    help: 'Step messages waiting in the step queue (sampled)',
    gauge: true,
    localOnly: true,
  },
  StepQueueOldestAgeSeconds: {
    unit: MetricUnit.Seconds,
    dimensionSets: byService,
    services: orchestrator,
    help: 'Age of the oldest step message waiting (sampled)',
    gauge: true,
    localOnly: true,
  },
  DeadLetterQueueDepth: {
    unit: MetricUnit.Count,
    dimensionSets: byService,
    services: orchestrator,
    help: 'Messages in the deepest dead-letter queue, the step or the settlement queue’s (sampled)',
    gauge: true,
    localOnly: true,
  },
  HandledFailures: counter(both, 'Failures logged and deliberately not propagated'),
  RunsCompleted: counter(orchestrator, 'Runs that completed'),
  RunsFailed: counter(orchestrator, 'Runs that failed'),
  RunsCanceled: counter(orchestrator, 'Runs that were canceled'),
  RemoteCancelsFailed: counter(
    orchestrator,
    'Cancels of forwarded runs that did not reach the peer running them',
  ),
  StepsProcessed: counter(orchestrator, 'Step messages processed to the end of their step'),
  StepsRetried: counter(orchestrator, 'Step messages left for redelivery'),
  StepErrors: counter(orchestrator, 'Step messages whose processing failed'),
  InvalidStepMessages: counter(orchestrator, 'Step messages that did not parse'),
  StepMessageAgeMs: {
    unit: MetricUnit.Milliseconds,
    dimensionSets: byService,
    services: orchestrator,
    help: 'Time a step message waited in the queue before its processing began',
  },
  ModelCalls: counter(modelPolicy, 'Model calls settled'),
  ModelTokens: counter(modelPolicy, 'Model tokens used'),
  ModelFallbacks: counter(modelPolicy, 'Model calls that fell back to another backend'),
  ModelCostNanoUsd: counter(modelPolicy, 'Model spend, nano-USD'),
  ModelCallsFailed: counter(modelPolicy, 'Model calls that failed after every backend was tried'),
  ModelCallsPartial: counter(modelPolicy, 'Model streams that ended early'),
  ModelCallsBeyondReservation: counter(modelPolicy, 'Model calls that used more than they reserved'),
  ModelSettlementsFailed: counter(
    modelPolicy,
    'Model calls whose settlement neither the table nor the settlement queue took (usage lost, reservation held)',
  ),
  ModelSettlementsQueued: counter(
    modelPolicy,
    'Model calls whose settlement the table refused, handed to the settlement queue to be written later',
  ),
  ModelSettlementsRecovered: counter(modelPolicy, 'Queued settlements the settlement worker wrote'),
  ModelSettlementsUnreadable: counter(
    modelPolicy,
    'Queued settlements the settlement worker could not read (they go to the dead-letter queue)',
  ),
  ModelCallsReplayed: counter(modelPolicy, 'Model calls answered from an idempotent replay'),
  PolicyDenials: counter(modelPolicy, 'Model calls the tenant policy denied'),
  BudgetRefusals: counter(modelPolicy, 'Model calls refused for an exhausted budget'),
  AlertsSent: counter(alertNotifier, 'Alert e-mails sent'),
  AlertsDeduplicated: counter(alertNotifier, 'Alarm notifications not mailed again inside the dedup window'),
  AlertsFailed: counter(alertNotifier, 'Alert e-mails that could not be sent (the notification is retried)'),
  AlertsRefused: counter(alertNotifier, 'Notifications that were not a valid alarm message'),
} as const satisfies Record<string, MetricDefinition>;

/** The name of a metric of {@link metricDefinitions}. */
export type MetricName = keyof typeof metricDefinitions;

/** The definition of `name`, or undefined when the code declares no such metric. */
export function metricDefinition(name: string): MetricDefinition | undefined {
  return Object.hasOwn(metricDefinitions, name)
    ? (metricDefinitions as Record<string, MetricDefinition>)[name]
    : undefined;
}

/**
 * AWS service metrics a catalog alarm reads under the catalog's `AgentOS` namespace: the node does
 * not emit these, AWS does. Lambda's `Throttles` without dimensions is the account's, which is the
 * concurrency a node shares (HLD §9.3, "disk full").
 */
export const awsServiceMetrics = {
  Throttles: { namespace: 'AWS/Lambda', dimensions: {} },
} as const satisfies Record<string, { namespace: string; dimensions: Record<string, string> }>;
