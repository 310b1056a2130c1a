/**
 * CloudWatch Contributor Insights rules over the services' structured logs: the per-tenant views
 * global metrics must not give (HLD §9.2, no tenant dimension). Each rule ranks `tenant_id` values
 * in the JSON log lines Powertools writes; a stack creates one `AWS::CloudWatch::InsightRule` per
 * entry, with the log group names filled in.
 */

/** A Contributor Insights rule body (schema `CloudWatchLogRule` version 1). */
export type ContributorInsightsRule = {
  Schema: { Name: 'CloudWatchLogRule'; Version: 1 };
  LogGroupNames: string[];
  LogFormat: 'JSON';
  Contribution: {
    Keys: string[];
    ValueOf?: string;
    Filters: ({ Match: string } & Record<string, unknown>)[];
  };
  AggregateOn: 'Count' | 'Sum';
};

/** What one rule ranks tenants by: the log lines it reads, and a count or the sum of a field. */
type TenantInsightRule = {
  /** What a dashboard's top-tenants graph of the rule is titled. */
  title: string;
  keys: string[];
  sumOf?: string;
  filters: ({ Match: string } & Record<string, unknown>)[];
  aggregateOn: 'Count' | 'Sum';
};

/** Top tenants by requests, by server errors and by model spend. */
export const tenantInsightRules = {
  /** Requests per tenant, from each admitted request's `request served` line. */
  'tenant-requests': {
    title: 'Top tenants by requests',
    keys: ['$.tenant_id'],
    filters: [
      { Match: '$.message', In: ['request served'] },
      { Match: '$.tenant_id', IsPresent: true },
    ],
    aggregateOn: 'Count',
  },
  /** Server errors (5xx) per tenant. */
  'tenant-server-errors': {
    title: 'Top tenants by server errors',
    keys: ['$.tenant_id'],
    filters: [
      { Match: '$.message', In: ['request served'] },
      { Match: '$.status', GreaterThan: 499 },
      { Match: '$.tenant_id', IsPresent: true },
    ],
    aggregateOn: 'Count',
  },
  /** Model spend per tenant (nano-USD), from each settled model call's line. */
  'tenant-model-spend': {
    title: 'Top tenants by model spend (nano-USD)',
    keys: ['$.tenant_id'],
    sumOf: '$.cost_nano_usd',
    filters: [{ Match: '$.message', In: ['model call settled'] }],
    aggregateOn: 'Sum',
  },
} satisfies Record<string, TenantInsightRule>;

/** The name of one of {@link tenantInsightRules}. */
export type TenantInsightRuleName = keyof typeof tenantInsightRules;

/** Every rule's name, in declaration order. */
export const tenantInsightRuleNames = Object.keys(tenantInsightRules) as TenantInsightRuleName[];

/** The JSON rule body of `name` over `logGroupNames`, as `AWS::CloudWatch::InsightRule` takes it. */
export function insightRuleBody(
  name: TenantInsightRuleName,
  logGroupNames: string[],
): ContributorInsightsRule {
  const rule: TenantInsightRule = tenantInsightRules[name];
  return {
    Schema: { Name: 'CloudWatchLogRule', Version: 1 },
    LogGroupNames: logGroupNames,
    LogFormat: 'JSON',
    Contribution: {
      Keys: [...rule.keys],
      ...(rule.sumOf === undefined ? {} : { ValueOf: rule.sumOf }),
      Filters: rule.filters.map((filter) => ({ ...filter })),
    },
    AggregateOn: rule.aggregateOn,
  };
}
