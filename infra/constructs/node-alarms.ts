import { Aws, Duration, Stack, Validations } from 'aws-cdk-lib';
import {
  Alarm,
  CfnInsightRule,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { IMetric, IWidget } from 'aws-cdk-lib/aws-cloudwatch';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  insightRuleBody,
  tenantInsightRuleNames,
  tenantInsightRules,
} from '../../functions/shared/observability/contributor-insights.ts';
import { stageAlarms } from '../../functions/shared/observability/alarm-catalog.ts';
import {
  awsServiceMetrics,
  metricDefinition,
  metricDefinitions,
  metricNamespace,
} from '../../functions/shared/observability/metric-definitions.ts';
import type { MetricName } from '../../functions/shared/observability/metric-definitions.ts';
import type {
  AlarmDefinition,
  AlarmId,
  AlarmOverrides,
} from '../../functions/shared/observability/alarm-catalog.ts';

/** What {@link NodeAlarms} watches besides the node's own `AgentOS` metrics. */
export type NodeAlarmsProps = {
  nodeId: string;
  /** The stage's changes to the catalog (`alerts.thresholds` of the node configuration). */
  overrides: AlarmOverrides;
  stepQueue: Queue;
  stepDeadLetterQueue: Queue;
  /** Runs' deadlines of at most 15 minutes, as delayed messages (HLD §4.3). */
  deadlineQueue: Queue;
  /**
   * Model call settlements the table refused, waiting for the settlement worker (HLD §5.3); read by
   * `queue_backlog` with the step queue.
   */
  settlementQueue: Queue;
  /** Read by `dlq_not_empty` with the step queue's DLQ: a dead-lettered settlement is usage not counted. */
  settlementDeadLetterQueue: Queue;
  /** The API functions' log groups: the top-tenants rules read them. */
  apiLogGroups: ILogGroup[];
};

/** A Contributor Insights "top contributors" graph, which the CDK has no widget class for. */
class InsightRuleWidget implements IWidget {
  readonly width = 12;
  readonly height = 6;
  readonly warnings: string[] = [];
  #position = { x: 0, y: 0 };

  readonly #ruleName: string;
  readonly #title: string;

  constructor(ruleName: string, title: string) {
    this.#ruleName = ruleName;
    this.#title = title;
  }

  position(x: number, y: number): void {
    this.#position = { x, y };
  }

  toJson(): unknown[] {
    return [
      {
        type: 'metric',
        width: this.width,
        height: this.height,
        ...this.#position,
        properties: {
          title: this.#title,
          region: Aws.REGION,
          insightRule: { maxContributorCount: 10, orderBy: 'Sum', ruleName: this.#ruleName },
          view: 'timeSeries',
          stacked: false,
        },
      },
    ];
  }
}

/**
 * One term for the per-service series of a catalog metric: an alarm on silence (`<`) fires when any
 * service falls silent, so it takes the least; counts add up, a missing count being none (so one
 * quiet source does not blank a sum); latencies and levels take the worst.
 */
function combined(definition: AlarmDefinition, variables: string[]): string {
  const filled = variables.map((variable) => `FILL(${variable}, 0)`);
  const counts = definition.statistic === 'Sum' || definition.statistic === 'SampleCount';
  if (variables.length === 1)
    return counts && definition.expression !== undefined ? filled[0]! : variables[0]!;
  if (definition.comparison === '<' || definition.comparison === '<=') return `MIN([${filled.join(', ')}])`;
  if (counts) return `(${filled.join(' + ')})`;
  return `MAX([${variables.join(', ')}])`;
}

const comparisons = {
  '>': ComparisonOperator.GREATER_THAN_THRESHOLD,
  '>=': ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
  '<': ComparisonOperator.LESS_THAN_THRESHOLD,
  '<=': ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
} as const satisfies Record<AlarmDefinition['comparison'], ComparisonOperator>;

/**
 * The node's baseline alarms on AWS (HLD §9.3): one CloudWatch alarm per entry of the shared
 * catalog (functions/shared/observability/alarm-catalog.ts), with the stage's overrides applied, each
 * publishing to the node's alarm topic when it fires and when it clears, and a dashboard of the same
 * signals. The catalog is the only place thresholds are written; nothing here restates one.
 */
export class NodeAlarms extends Construct {
  /** Every alarm's action: the node's alert notifier subscribes to it. */
  readonly topic: Topic;
  readonly alarms: Partial<Record<AlarmId, Alarm>>;
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: NodeAlarmsProps) {
    super(scope, id);
    this.topic = new Topic(this, 'Topic', {
      topicName: `agentos-${props.nodeId}-alarms`,
      displayName: `AgentOS ${props.nodeId} alarms`,
      enforceSSL: true,
    });
    Validations.of(this.topic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'CloudWatch alarms cannot publish to a topic encrypted with the AWS managed SNS key, and the ' +
        'messages hold alarm names and figures only (no tenant data, no secrets: HLD §9.3).',
    });
    const action = new SnsAction(this.topic);
    const definitions = stageAlarms(props.overrides);
    this.alarms = Object.fromEntries(
      definitions.map((definition) => {
        const alarm = new Alarm(this, `Alarm-${definition.id}`, {
          alarmName: `agentos-${props.nodeId}-${definition.id}`,
          alarmDescription: definition.description,
          metric: this.metricOf(definition, props),
          threshold: definition.threshold,
          comparisonOperator: comparisons[definition.comparison],
          evaluationPeriods: definition.evaluation_periods,
          treatMissingData:
            definition.missing_data === 'breaching'
              ? TreatMissingData.BREACHING
              : TreatMissingData.NOT_BREACHING,
        });
        // The OK action lets the notifier say an alarm cleared; it is deduplicated like the rest.
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
        return [definition.id, alarm];
      }),
    );
    this.dashboard = this.buildDashboard(props);
  }

  /**
   * The metric an alarm reads: the catalog's single metric, or its metric math over several. The
   * node's own metrics are read as the services emit them (metric-definitions.ts): Powertools adds
   * a `service` dimension to every data point, so a catalog name stands for one CloudWatch metric
   * per emitting service, combined here (summed for counts, the worst service otherwise).
   */
  private metricOf(definition: AlarmDefinition, props: NodeAlarmsProps): IMetric {
    const period = Duration.seconds(definition.period_seconds);
    const usingMetrics: Record<string, IMetric> = {};
    const terms = new Map<string, string>();
    for (const name of definition.metrics) {
      const sources = this.sourcesOf(definition, name, props, period);
      const variables = sources.map((source, index) => {
        // CloudWatch metric math wants variables starting lowercase; the catalog uses metric names.
        const variable = sources.length === 1 ? `m${name}` : `m${name}_${index}`;
        usingMetrics[variable] = source;
        return variable;
      });
      terms.set(name, combined(definition, variables));
    }
    const sources = Object.values(usingMetrics);
    if (definition.expression === undefined && sources.length === 1) return sources[0]!;
    // One pass, so a term already substituted is never rewritten by a later name.
    const expression = (definition.expression ?? definition.metrics[0]!).replace(
      new RegExp(`\\b(${definition.metrics.join('|')})\\b`, 'g'),
      (name) => terms.get(name)!,
    );
    return new MathExpression({ expression, usingMetrics, period, label: definition.id });
  }

  /**
   * The CloudWatch metrics one catalog metric name reads: an SQS queue's metric, an AWS service's
   * metric (awsServiceMetrics), or the node's own metric once per service that emits it, with
   * exactly the `service` dimension it is emitted with.
   */
  private sourcesOf(
    definition: AlarmDefinition,
    name: string,
    props: NodeAlarmsProps,
    period: Duration,
  ): Metric[] {
    const common = { metricName: name, statistic: definition.statistic, period };
    if (definition.namespace === 'AWS/SQS') {
      // Every queue of its kind, combined like any multi-source metric (the deepest, the oldest): a
      // settlement that waits or is dead-lettered is usage not yet counted (HLD §5.3).
      const queues =
        definition.id === 'dlq_not_empty'
          ? [props.stepDeadLetterQueue, props.settlementDeadLetterQueue]
          : [props.stepQueue, props.settlementQueue];
      return queues.map(
        (queue) =>
          new Metric({ ...common, namespace: 'AWS/SQS', dimensionsMap: { QueueName: queue.queueName } }),
      );
    }
    const aws = (awsServiceMetrics as Partial<Record<string, { namespace: string; dimensions: object }>>)[
      name
    ];
    if (aws !== undefined) {
      return [new Metric({ ...common, namespace: aws.namespace, dimensionsMap: { ...aws.dimensions } })];
    }
    const emitted = metricDefinition(name);
    if (emitted === undefined || definition.namespace !== metricNamespace || emitted.localOnly === true)
      throw new Error(`Alarm ${definition.id} reads ${name}, which no service emits`);
    return emitted.services.map(
      (service) => new Metric({ ...common, namespace: metricNamespace, dimensionsMap: { service } }),
    );
  }

  /** One dashboard per node: the alarms' state and the signals behind them. */
  private buildDashboard(props: NodeAlarmsProps): Dashboard {
    // One line per emitting service, with the `service` dimension the metric is emitted with.
    const agentOs = (metricName: MetricName, statistic: string) =>
      metricDefinitions[metricName].services.map(
        (service) =>
          new Metric({
            namespace: metricNamespace,
            metricName,
            statistic,
            period: Duration.minutes(1),
            dimensionsMap: { service },
            label: `${metricName} ${statistic} (${service})`,
          }),
      );
    const dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: `agentos-${props.nodeId}`,
    });
    dashboard.addWidgets(
      new TextWidget({
        markdown: `# AgentOS node ${props.nodeId}\nBaseline alarms (HLD §9.3) and the signals behind them; see docs/alerts.md.`,
        width: 24,
        height: 2,
      }),
    );
    // The alarms are named by ARN built from their names rather than by reference: the emulator
    // does not create CloudWatch alarms from a template, and a reference to one fails its deploy.
    const alarms = Object.keys(this.alarms).map((alarmId) =>
      Alarm.fromAlarmArn(
        this,
        `Watched-${alarmId}`,
        `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:agentos-${props.nodeId}-${alarmId}`,
      ),
    );
    dashboard.addWidgets(new AlarmStatusWidget({ title: 'Baseline alarms', alarms, width: 24, height: 4 }));
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Service health (successful health checks, requests)',
        left: [...agentOs('HealthyChecks', 'Sum'), ...agentOs('Requests', 'Sum')],
        width: 8,
      }),
      new GraphWidget({
        title: 'API latency percentiles (ms)',
        left: ['p50', 'p95', 'p99'].flatMap((statistic) => agentOs('RequestLatencyMs', statistic)),
        width: 8,
      }),
      new GraphWidget({
        title: 'Errors (5xx, failed model calls, throttles)',
        left: [
          ...agentOs('ServerErrors', 'Sum'),
          ...agentOs('ModelCallsFailed', 'Sum'),
          ...agentOs('StorageThrottles', 'Sum'),
        ],
        width: 8,
      }),
      new GraphWidget({
        title: 'Step queue depth and oldest step age',
        left: [props.stepQueue.metricApproximateNumberOfMessagesVisible()],
        right: [props.stepQueue.metricApproximateAgeOfOldestMessage()],
        width: 8,
      }),
      // A deadline waits delayed; one visible for long means the step worker does not consume the
      // deadline queue, and runs outlive their timeout.
      new GraphWidget({
        title: 'Run deadlines waiting and due',
        left: [
          props.deadlineQueue.metricApproximateNumberOfMessagesDelayed({ label: 'waiting' }),
          props.deadlineQueue.metricApproximateNumberOfMessagesVisible({ label: 'due, not yet taken' }),
        ],
        width: 8,
      }),
      new GraphWidget({
        title: 'Dead-lettered steps',
        left: [props.stepDeadLetterQueue.metricApproximateNumberOfMessagesVisible()],
        width: 8,
      }),
      // Settlements wait here only while the table refuses them; any dead-lettered one is usage not
      // yet counted and a reservation still held.
      new GraphWidget({
        title: 'Queued and dead-lettered settlements, and the oldest queued one’s age',
        left: [
          props.settlementQueue.metricApproximateNumberOfMessagesVisible({ label: 'queued' }),
          props.settlementDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
            label: 'dead-lettered',
          }),
        ],
        right: [props.settlementQueue.metricApproximateAgeOfOldestMessage({ label: 'oldest queued' })],
        width: 8,
      }),
      new GraphWidget({
        title: 'Model spend (nano-USD) and calls refused for budget',
        left: agentOs('ModelCostNanoUsd', 'Sum'),
        right: agentOs('BudgetRefusals', 'Sum'),
        width: 8,
      }),
    );
    // Top tenants (HLD §9.2): Contributor Insights over the API functions' structured logs.
    const stack = Stack.of(this);
    dashboard.addWidgets(
      ...tenantInsightRuleNames.map((name) => {
        const ruleName = `agentos-${props.nodeId}-${name}`;
        new CfnInsightRule(this, `Insight-${name}`, {
          ruleName,
          ruleState: 'ENABLED',
          ruleBody: stack.toJsonString(
            insightRuleBody(
              name,
              props.apiLogGroups.map((group) => group.logGroupName),
            ),
          ),
        });
        return new InsightRuleWidget(ruleName, tenantInsightRules[name].title);
      }),
    );
    return dashboard;
  }
}
