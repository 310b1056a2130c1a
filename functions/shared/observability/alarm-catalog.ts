import { z } from 'zod';

/**
 * The baseline alerts of a node (HLD §9.3), declared once: the AWS stack builds its CloudWatch
 * alarms from these entries and the local node's evaluator (cli/local/alarm-evaluator.ts) evaluates
 * the same entries over the local node's own signals. Metric names are the node's CloudWatch
 * metrics (namespace `AgentOS`, global, no tenant dimension: HLD §9.2) or the AWS service metric
 * named in `namespace`.
 *
 * "Disk full" has no disk in this serverless design; its translation is what fills up instead:
 * DynamoDB refusing writes (throttling, or a write refused for its item size) and Lambda running out
 * of concurrency, which all stop runs the way a full disk stops a server. The node keeps run
 * transcripts in pieces (HLD §4.2), so the item-size limit is a bug signal rather than a capacity
 * one; it is counted with the throttles under one alarm.
 */

/** Stable ids of the baseline alarms; e-mails, reports and configuration name alarms by them. */
export const alarmIds = [
  'service_down',
  'high_error_rate',
  'p95_latency_high',
  'model_backend_unreachable',
  'queue_backlog',
  'dlq_not_empty',
  'storage_or_concurrency_exhausted',
  'tenant_budget_exceeded',
] as const;

export const AlarmIdSchema = z.enum(alarmIds);
export type AlarmId = z.infer<typeof AlarmIdSchema>;

/** One baseline alarm: what it watches, when it fires, and where the operator looks next. */
export const AlarmDefinitionSchema = z.strictObject({
  id: AlarmIdSchema,
  /** One line for people: what is wrong when it fires. */
  description: z.string().min(10),
  /** The CloudWatch namespace of `metrics`. */
  namespace: z.string().min(1),
  /**
   * The metrics the alarm reads. With several, `expression` combines them (CloudWatch metric math,
   * the names as variables); with one, the alarm reads it directly.
   */
  metrics: z.array(z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/)).min(1),
  expression: z.string().min(1).optional(),
  statistic: z.enum(['Sum', 'Average', 'Maximum', 'Minimum', 'p95', 'SampleCount']),
  comparison: z.enum(['>', '>=', '<', '<=']),
  /** The default threshold, in `unit`; a stage overrides it in its configuration. */
  threshold: z.number().finite(),
  unit: z.string().min(1),
  /** Seconds per evaluation period. */
  period_seconds: z.int().min(10),
  /** Consecutive breaching periods before it fires. */
  evaluation_periods: z.int().min(1).max(60),
  /** What a period without data counts as: `breaching` only where silence is the failure. */
  missing_data: z.enum(['breaching', 'not_breaching']),
  /** The command or dashboard to look at next, as the e-mail says it. */
  next_step: z.string().min(1),
  /** Whether the alarm is per tenant (the e-mail then names the tenant id, nothing else of it). */
  per_tenant: z.boolean(),
});

export type AlarmDefinition = z.infer<typeof AlarmDefinitionSchema>;

const ns = 'AgentOS';

/** The catalog with its default thresholds (HLD §9.3). */
export const alarmCatalog: readonly AlarmDefinition[] = z.array(AlarmDefinitionSchema).parse([
  {
    id: 'service_down',
    description: 'A node API answered no successful health check in the period',
    namespace: ns,
    metrics: ['HealthyChecks'],
    statistic: 'Sum',
    comparison: '<',
    threshold: 1,
    unit: 'successful health checks',
    period_seconds: 60,
    evaluation_periods: 2,
    missing_data: 'breaching',
    next_step: 'agentos status (health checks); then the node log / the API Gateway and Lambda logs',
    per_tenant: false,
  },
  {
    id: 'high_error_rate',
    description: 'Too many API requests end in a server error (5xx)',
    namespace: ns,
    metrics: ['ServerErrors', 'Requests'],
    expression: '100 * ServerErrors / Requests',
    statistic: 'Sum',
    comparison: '>',
    threshold: 5,
    unit: '% of requests',
    period_seconds: 60,
    evaluation_periods: 3,
    missing_data: 'not_breaching',
    next_step:
      'agentos status (recent 5xx); the CloudWatch Logs Insights query "level = ERROR" on the API log groups',
    per_tenant: false,
  },
  {
    id: 'p95_latency_high',
    description: 'The 95th percentile of API latency is high',
    namespace: ns,
    metrics: ['RequestLatencyMs'],
    statistic: 'p95',
    comparison: '>',
    threshold: 3_000,
    unit: 'ms',
    period_seconds: 60,
    evaluation_periods: 5,
    missing_data: 'not_breaching',
    next_step: 'agentos status; the X-Ray / OTel traces of the slow routes',
    per_tenant: false,
  },
  {
    id: 'model_backend_unreachable',
    description: 'Model calls fail after every backend and fallback was tried',
    namespace: ns,
    metrics: ['ModelCallsFailed'],
    statistic: 'Sum',
    comparison: '>=',
    threshold: 3,
    unit: 'failed model calls',
    period_seconds: 60,
    evaluation_periods: 1,
    missing_data: 'not_breaching',
    next_step:
      'the Model Policy log ("no model backend answered", its reason and status); agentos validate (smoke run)',
    per_tenant: false,
  },
  {
    id: 'queue_backlog',
    description:
      'Steps or model call settlements wait: the oldest message of the step queue or the settlement queue is old',
    namespace: 'AWS/SQS',
    metrics: ['ApproximateAgeOfOldestMessage'],
    statistic: 'Maximum',
    comparison: '>',
    threshold: 300,
    unit: 's',
    period_seconds: 60,
    evaluation_periods: 5,
    missing_data: 'not_breaching',
    next_step:
      'agentos capacity (run slots, step queue depth, oldest step age); for settlements, the settlement worker log ("could not be written yet" names the store\'s error, "cannot be read" a message to inspect and drop)',
    per_tenant: false,
  },
  {
    id: 'dlq_not_empty',
    description: 'Step or settlement messages were dead-lettered after their last delivery',
    namespace: 'AWS/SQS',
    metrics: ['ApproximateNumberOfMessagesVisible'],
    statistic: 'Maximum',
    comparison: '>',
    threshold: 0,
    unit: 'messages',
    period_seconds: 60,
    evaluation_periods: 1,
    missing_data: 'not_breaching',
    next_step:
      'agentos status (both DLQs); the step worker log of those runs, or the settlement worker log of those settlements, then redrive',
    per_tenant: false,
  },
  {
    id: 'storage_or_concurrency_exhausted',
    description:
      'What fills up in a serverless node (its "disk full"): DynamoDB throttles or refuses writes, or Lambda runs out of concurrency',
    namespace: ns,
    metrics: ['StorageThrottles', 'Throttles'],
    expression: 'StorageThrottles + Throttles',
    statistic: 'Sum',
    comparison: '>',
    threshold: 10,
    unit: 'throttled calls',
    period_seconds: 60,
    evaluation_periods: 3,
    missing_data: 'not_breaching',
    next_step: 'agentos capacity; the DynamoDB table and Lambda concurrency dashboards',
    per_tenant: false,
  },
  {
    id: 'tenant_budget_exceeded',
    description: 'Model calls of a tenant were refused: its budget is exhausted',
    namespace: ns,
    metrics: ['BudgetRefusals'],
    statistic: 'Sum',
    comparison: '>=',
    threshold: 1,
    unit: 'refused model calls',
    period_seconds: 300,
    evaluation_periods: 1,
    missing_data: 'not_breaching',
    next_step: 'agentos tenants get <tenant> and its usage; raise the budget in the tenant model policy',
    per_tenant: true,
  },
]);

/** A stage's change to one alarm (the node configuration's `alerts.thresholds.<id>`). */
export const AlarmOverrideSchema = z.strictObject({
  threshold: z.number().finite().optional(),
  evaluation_periods: z.int().min(1).max(60).optional(),
  /** `false` turns the alarm off on this stage. */
  enabled: z.boolean().optional(),
});

export const AlarmOverridesSchema = z.partialRecord(AlarmIdSchema, AlarmOverrideSchema);
export type AlarmOverrides = z.infer<typeof AlarmOverridesSchema>;

/** The catalog of one stage: its overrides applied, alarms it turned off left out. */
export function stageAlarms(overrides: AlarmOverrides = {}): AlarmDefinition[] {
  return alarmCatalog.flatMap((alarm) => {
    const change = overrides[alarm.id];
    if (change?.enabled === false) return [];
    return [
      {
        ...alarm,
        ...(change?.threshold === undefined ? {} : { threshold: change.threshold }),
        ...(change?.evaluation_periods === undefined
          ? {}
          : { evaluation_periods: change.evaluation_periods }),
      },
    ];
  });
}

/** Whether `value` breaches the alarm's threshold. */
export function breaches(alarm: Pick<AlarmDefinition, 'comparison' | 'threshold'>, value: number): boolean {
  switch (alarm.comparison) {
    case '>':
      return value > alarm.threshold;
    case '>=':
      return value >= alarm.threshold;
    case '<':
      return value < alarm.threshold;
    case '<=':
      return value <= alarm.threshold;
  }
}
