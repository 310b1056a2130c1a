import { describe, expect, it } from 'vitest';
import {
  insightRuleBody,
  tenantInsightRules,
} from '../../../functions/shared/observability/contributor-insights.ts';
import type { TenantInsightRuleName } from '../../../functions/shared/observability/contributor-insights.ts';

describe('tenant Contributor Insights rules', () => {
  it('returns JSON rule bodies that rank tenant ids over the given log groups', () => {
    for (const name of Object.keys(tenantInsightRules) as TenantInsightRuleName[]) {
      const body = JSON.parse(JSON.stringify(insightRuleBody(name, ['/aws/lambda/mp']))) as Record<
        string,
        unknown
      >;
      expect(body).toMatchObject({
        Schema: { Name: 'CloudWatchLogRule', Version: 1 },
        LogGroupNames: ['/aws/lambda/mp'],
        LogFormat: 'JSON',
        Contribution: { Keys: ['$.tenant_id'] },
      });
    }
    expect(insightRuleBody('tenant-model-spend', []).Contribution.ValueOf).toBe('$.cost_nano_usd');
  });
});
