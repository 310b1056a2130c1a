import { scopes } from '../../shared/auth/auth-context.ts';
import type { Route } from '../../shared/http/api-types.ts';
import { validate } from '../../shared/http/json-body.ts';
import type { UsageReporter } from '../metering/usage-reporter.ts';
import { UsageQuerySchema } from '../schemas/usage.ts';

/**
 * `GET /v1/usage` (scope `usage:read`): `?window=day|month&date=…[&principal=…]` for a window of the
 * tenant's usage, `?run_id=…` for one run's.
 */
export function usageRoute(reporter: UsageReporter): Route {
  return {
    method: 'GET',
    path: '/v1/usage',
    scope: scopes.usageRead,
    async handle(request) {
      const query = validate(UsageQuerySchema, request.query, 'query');
      if (query.run_id !== undefined)
        return { status: 200, json: await reporter.run(request.auth, query.run_id) };
      return { status: 200, json: await reporter.window(request.auth, query) };
    },
  };
}
