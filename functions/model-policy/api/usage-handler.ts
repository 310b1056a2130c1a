import { scopes } from '../../shared/auth/auth-context.ts';
import { ForbiddenError } from '../../shared/errors/agentos-error.ts';
import type { RouteHandler } from '../../shared/http/bound-route.ts';
import type { UsageReporter } from '../metering/usage-reporter.ts';
import type { getUsage } from './model-policy-api.ts';

/**
 * `GET /v1/usage` (scope `usage:read`): `?window=day|month&date=…[&principal=…]` for a window of the
 * tenant's usage, `?run_id=…` for one run's. A member sees only its own usage unless it also holds
 * `usage:read:all` (HLD §5.2): its window reads as `principal=<itself>`, asking for another principal
 * is 403, and a run shows only the member's own calls of it, so another principal's run reads
 * exactly like an unknown one (zero totals) and its existence does not leak.
 */
export function usageHandler(reporter: UsageReporter): RouteHandler<typeof getUsage> {
  return async ({ auth, query }) => {
    const readsAll = auth.scopes.includes(scopes.usageReadAll);
    if (query.run_id !== undefined) {
      const own = readsAll ? undefined : auth.principal.id;
      return { status: 200, json: await reporter.run(auth, query.run_id, own) };
    }
    if (readsAll) return { status: 200, json: await reporter.window(auth, query) };
    if (query.principal !== undefined && query.principal !== auth.principal.id) {
      throw new ForbiddenError(
        `Reading another principal's usage requires the ${scopes.usageReadAll} scope`,
        {
          details: { required_scope: scopes.usageReadAll },
        },
      );
    }
    return { status: 200, json: await reporter.window(auth, { ...query, principal: auth.principal.id }) };
  };
}
