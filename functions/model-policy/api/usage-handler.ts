import type { RouteHandler } from '../../shared/http/bound-route.ts';
import type { UsageReporter } from '../metering/usage-reporter.ts';
import type { getUsage } from './model-policy-api.ts';

/**
 * `GET /v1/usage` (scope `usage:read`): `?window=day|month&date=…[&principal=…]` for a window of the
 * tenant's usage, `?run_id=…` for one run's.
 */
export function usageHandler(reporter: UsageReporter): RouteHandler<typeof getUsage> {
  return async ({ auth, query }) => {
    if (query.run_id !== undefined) return { status: 200, json: await reporter.run(auth, query.run_id) };
    return { status: 200, json: await reporter.window(auth, query) };
  };
}
