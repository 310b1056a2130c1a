/**
 * The node's Contributor Insights rules over its structured JSON logs (HLD §9.2): which tenants
 * make the most API requests and the most server errors. Tenant ids only, never tenant data; the
 * log fields are the ones the HTTP app appends to every line (`tenant_id`, `level`). The AWS stack
 * turns each into an `AWS::CloudWatch::InsightRule` over the API functions' log groups and a "top
 * tenants" widget on the node dashboard.
 */
export type ContributorInsightsRule = {
  /** Suffix of the rule's name, `agentos-<node id>-<id>`. */
  id: string;
  title: string;
  /** The log fields the contributors are keyed by. */
  keys: string[];
  /** Only lines matching every filter count. */
  filters: { match: string; in: string[] }[];
};

export const contributorInsightsRules: readonly ContributorInsightsRule[] = [
  { id: 'top-tenants-requests', title: 'Top tenants by API log lines', keys: ['$.tenant_id'], filters: [] },
  {
    id: 'top-tenants-errors',
    title: 'Top tenants by error log lines',
    keys: ['$.tenant_id'],
    filters: [{ match: '$.level', in: ['ERROR'] }],
  },
];

/** The rule body CloudWatch expects (schema `CloudWatchLogRule` version 1) over `logGroupNames`. */
export function contributorInsightsRuleBody(
  rule: ContributorInsightsRule,
  logGroupNames: string[],
): Record<string, unknown> {
  return {
    Schema: { Name: 'CloudWatchLogRule', Version: 1 },
    LogGroupNames: logGroupNames,
    LogFormat: 'JSON',
    Contribution: {
      Keys: rule.keys,
      Filters: rule.filters.map((filter) => ({ Match: filter.match, In: filter.in })),
    },
    AggregateOn: 'Count',
  };
}
