import type { CfnResource } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { contextKeys } from '../../infra/config/node-settings.ts';
import type { AgentOsNodeStack } from '../../infra/stacks/agentos-node-stack.ts';
import { alarmCatalog } from '../../functions/shared/observability/alarm-catalog.ts';
import { tenantInsightRuleNames } from '../../functions/shared/observability/contributor-insights.ts';
import {
  metricDefinition,
  metricNamespace,
} from '../../functions/shared/observability/metric-definitions.ts';
import { resourcesOfType, synthesizeNodeStack } from './node-template.ts';
import type { TemplateResource } from './node-template.ts';

const comparisonNames = {
  '>': 'GreaterThanThreshold',
  '>=': 'GreaterThanOrEqualToThreshold',
  '<': 'LessThanThreshold',
  '<=': 'LessThanOrEqualToThreshold',
} as const;

type TemplateMetric = {
  Namespace: string;
  MetricName: string;
  Dimensions?: { Name: string; Value: unknown }[];
};

/** Every metric an alarm resource reads, directly or through its metric math. */
function metricsRead(alarm: TemplateResource): TemplateMetric[] {
  const properties = alarm.Properties ?? {};
  if (typeof properties['MetricName'] === 'string') return [properties as unknown as TemplateMetric];
  const queries = (properties['Metrics'] ?? []) as { MetricStat?: { Metric: TemplateMetric } }[];
  return queries.flatMap((query) => (query.MetricStat === undefined ? [] : [query.MetricStat.Metric]));
}

/** What is wrong with the metrics an alarm reads, as lines naming the alarm and the metric. */
function problemsOf(alarm: TemplateResource): string[] {
  const problems: string[] = [];
  const servicesRead = new Map<string, Set<unknown>>();
  for (const metric of metricsRead(alarm)) {
    const where = `${String(alarm.Properties?.['AlarmName'])} reads ${metric.Namespace}/${metric.MetricName}`;
    const dimensions = metric.Dimensions ?? [];
    const names = dimensions.map((dimension) => dimension.Name).sort();
    if (metric.Namespace === 'AWS/SQS') {
      if (names.join() !== 'QueueName') problems.push(`${where} without its QueueName alone`);
      continue;
    }
    if (metric.Namespace === 'AWS/Lambda') {
      if (metric.MetricName !== 'Throttles' || names.length > 0)
        problems.push(`${where}: not the account's throttles`);
      continue;
    }
    const definition = metricDefinition(metric.MetricName);
    if (metric.Namespace !== metricNamespace || definition === undefined || definition.localOnly === true) {
      problems.push(`${where}, which no service emits on AWS`);
      continue;
    }
    if (!definition.dimensionSets.some((set) => [...set].sort().join() === names.join()))
      problems.push(`${where} by [${names.join()}], which it is not emitted with`);
    const service = dimensions.find((dimension) => dimension.Name === 'service')?.Value;
    if (!(definition.services as readonly unknown[]).includes(service))
      problems.push(`${where} of service ${String(service)}, which does not emit it`);
    servicesRead.set(metric.MetricName, (servicesRead.get(metric.MetricName) ?? new Set()).add(service));
  }
  // Every emitting service is read: an alarm on one service alone would miss the other's failures.
  for (const [name, services] of servicesRead) {
    const emitting = metricDefinition(name)?.services ?? [];
    if (emitting.some((service) => !services.has(service)))
      problems.push(`${String(alarm.Properties?.['AlarmName'])} misses a service emitting ${name}`);
  }
  return problems;
}

function alarmNamed(template: Template, name: string): TemplateResource | undefined {
  return Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm')).find(
    (alarm) => alarm.Properties?.['AlarmName'] === name,
  );
}

describe('the node stack alarms', () => {
  let stack: AgentOsNodeStack;
  let template: Template;

  beforeAll(async () => {
    ({ stack, template } = await synthesizeNodeStack());
  });

  it('creates one alarm per catalog entry with its threshold, publishing to the alarm topic when it fires and clears', () => {
    const topicId = stack.getLogicalId(stack.alarms.topic.node.defaultChild as CfnResource);
    expect(Object.keys(resourcesOfType(template, 'AWS::CloudWatch::Alarm'))).toHaveLength(
      alarmCatalog.length,
    );
    for (const definition of alarmCatalog) {
      const alarm = alarmNamed(template, `agentos-main-${definition.id}`);
      expect({ id: definition.id, ...alarm?.Properties }).toMatchObject({
        id: definition.id,
        Threshold: definition.threshold,
        ComparisonOperator: comparisonNames[definition.comparison],
        EvaluationPeriods: definition.evaluation_periods,
        TreatMissingData: definition.missing_data === 'breaching' ? 'breaching' : 'notBreaching',
        AlarmActions: [{ Ref: topicId }],
        OKActions: [{ Ref: topicId }],
      });
    }
  });

  it('reads in every alarm only metrics the services emit, with exactly the dimensions they are emitted with', () => {
    const alarms = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(alarmCatalog.length);
    expect(alarms.filter((alarm) => metricsRead(alarm).length === 0)).toEqual([]);
    expect(alarms.flatMap(problemsOf)).toEqual([]);
  });

  it.each([
    [
      'dlq_not_empty',
      'dead-letter queue',
      () => [stack.stepDeadLetterQueue, stack.settlementDeadLetterQueue],
    ],
    ['queue_backlog', 'work queue', () => [stack.stepQueue, stack.settlementQueue]],
  ] as const)(
    'reads in %s every %s of the node, the settlement queue’s included',
    (alarmId, _kind, queues) => {
      const queueNames = metricsRead(alarmNamed(template, `agentos-main-${alarmId}`)!).map((metric) =>
        JSON.stringify(metric.Dimensions),
      );
      const queueIds = queues().map((queue) => stack.getLogicalId(queue.node.defaultChild as CfnResource));
      expect(queueNames.sort()).toEqual(
        queueIds
          .map((id) => JSON.stringify([{ Name: 'QueueName', Value: { 'Fn::GetAtt': [id, 'QueueName'] } }]))
          .sort(),
      );
      // The deepest or the oldest of the queues, whichever one it is: never a sum or the least.
      const queries = alarmNamed(template, `agentos-main-${alarmId}`)!.Properties?.['Metrics'] as {
        Expression?: string;
      }[];
      const metric = alarmCatalog.find((definition) => definition.id === alarmId)!.metrics[0]!;
      expect(queries.flatMap((query) => query.Expression ?? [])).toEqual([
        `MAX([m${metric}_0, m${metric}_1])`,
      ]);
    },
  );

  it('schedules a health check of both API functions every minute, so service_down has its signal without traffic', async () => {
    const rules = Object.values(resourcesOfType(template, 'AWS::Events::Rule'));
    const probe = rules.find((rule) => rule.Properties?.['ScheduleExpression'] === 'rate(1 minute)');
    const targets = (probe?.Properties?.['Targets'] ?? []) as { Arn: unknown; Input: string }[];
    const functionIds = (['orchestratorApi', 'modelPolicyApi'] as const).map((name) =>
      stack.getLogicalId(stack.functions[name].node.defaultChild as CfnResource),
    );
    expect(targets.map((target) => JSON.stringify(target.Arn)).sort()).toEqual(
      functionIds.map((id) => JSON.stringify({ 'Fn::GetAtt': [id, 'Arn'] })).sort(),
    );
    // What each target receives is the health route as API Gateway would hand it over.
    const { requestFromProxyEvent } = await import('../../functions/shared/http/lambda-adapter.ts');
    const request = requestFromProxyEvent(JSON.parse(targets[0]!.Input), new AbortController().signal);
    expect([request.method, new URL(request.url).pathname]).toEqual(['GET', '/v1/health']);
    // EventBridge may invoke each of them.
    const invokableByEvents = Object.values(resourcesOfType(template, 'AWS::Lambda::Permission'))
      .filter((permission) => permission.Properties?.['Principal'] === 'events.amazonaws.com')
      .map((permission) => JSON.stringify(permission.Properties?.['FunctionName']));
    expect(invokableByEvents.sort()).toEqual(
      functionIds.map((id) => JSON.stringify({ 'Fn::GetAtt': [id, 'Arn'] })).sort(),
    );
  });

  it('creates the alarm topic, refusing publishes without TLS', () => {
    const topics = resourcesOfType(template, 'AWS::SNS::Topic');
    expect(Object.values(topics).map((topic) => topic.Properties?.['TopicName'])).toEqual([
      'agentos-main-alarms',
    ]);
    const policies = JSON.stringify(resourcesOfType(template, 'AWS::SNS::TopicPolicy'));
    expect(policies).toContain('aws:SecureTransport');
  });

  it('creates the node dashboard with the state of every alarm and the signals behind them', () => {
    const dashboards = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Dashboard'));
    expect(dashboards.map((dashboard) => dashboard.Properties?.['DashboardName'])).toEqual(['agentos-main']);
    const body = JSON.stringify(dashboards[0]?.Properties?.['DashboardBody']);
    for (const title of [
      'API latency percentiles',
      'Step queue depth',
      'Run deadlines waiting and due',
      'Dead-lettered steps',
      'Queued and dead-lettered settlements',
      'Model spend',
    ]) {
      expect(body).toContain(title);
    }
    for (const name of tenantInsightRuleNames) expect(body).toContain(`agentos-main-${name}`);
    const rules = Object.values(resourcesOfType(template, 'AWS::CloudWatch::InsightRule'));
    expect(rules.map((rule) => rule.Properties?.['RuleName']).sort()).toEqual(
      tenantInsightRuleNames.map((name) => `agentos-main-${name}`).sort(),
    );
    for (const definition of alarmCatalog) expect(body).toContain(`:alarm:agentos-main-${definition.id}`);
  });

  it('returns the stage threshold and leaves out a disabled alarm when the configuration overrides them', async () => {
    const { template: overridden } = await synthesizeNodeStack({
      [contextKeys.alarmThresholds]: JSON.stringify({
        p95_latency_high: { threshold: 1_234, evaluation_periods: 2 },
        tenant_budget_exceeded: { enabled: false },
      }),
    });
    expect(alarmNamed(overridden, 'agentos-main-p95_latency_high')?.Properties).toMatchObject({
      Threshold: 1_234,
      EvaluationPeriods: 2,
    });
    expect(alarmNamed(overridden, 'agentos-main-tenant_budget_exceeded')).toBeUndefined();
    expect(alarmNamed(overridden, 'agentos-main-dlq_not_empty')?.Properties?.['Threshold']).toBe(0);
  });

  it('throws when a stage names an alarm the catalog does not have', async () => {
    await expect(
      synthesizeNodeStack({ [contextKeys.alarmThresholds]: JSON.stringify({ disk_full: { threshold: 1 } }) }),
    ).rejects.toThrow(/alarmThresholds/);
  });
});
