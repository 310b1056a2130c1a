import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { RateLimiterPort } from '../../shared/limits/limiter-port.ts';
import { storageKeys } from '../../shared/storage/keys.ts';
import type { AdmissionPort } from '../../shared/tenancy/admission-port.ts';
import { toolErrorResult } from '../ports/tool-port.ts';
import type { ToolResult } from '../ports/tool-port.ts';

/**
 * Decides, before a tool is called, whether the run's tenant may call it now: undefined lets the
 * call go on; a result is the tool error the model sees instead.
 */
export type ToolGate = (auth: AuthContext, name: string) => Promise<ToolResult | undefined>;

/**
 * The tenant's tool limits (HLD §5.2): its `tool_allowlist`, when set, refuses any other tool with
 * `not_allowed` (the model can choose another; the run goes on), and its `tool_calls_per_minute`
 * (a token bucket holding a minute's calls) refuses a call over it with the retryable `rate_limited`,
 * which the agent's `on_tool_error` policy retries, hands to the model or aborts on.
 */
export function createTenantToolGate(deps: {
  admission: Pick<AdmissionPort, 'tenant'>;
  limiter: RateLimiterPort;
}): ToolGate {
  return async (auth, name) => {
    const tenant = await deps.admission.tenant(auth.tenant_id);
    // A tenant that is gone or disabled has its runs canceled at their next step; no tool runs meanwhile.
    if (tenant === undefined || tenant.status === 'disabled') {
      return toolErrorResult('not_allowed', 'The tenant is disabled; no tool may be called', {
        retryable: false,
      });
    }
    if (tenant.tool_allowlist !== null && !tenant.tool_allowlist.includes(name)) {
      return toolErrorResult(
        'not_allowed',
        `Tool "${name.slice(0, 64)}" is not in the tenant's tool allow-list`,
        { retryable: false },
      );
    }
    const perMinute = tenant.quotas.tool_calls_per_minute;
    const decision = await deps.limiter.take(storageKeys.tenantLimit(auth.tenant_id, 'tool-rate'), {
      rate: perMinute,
      periodSeconds: 60,
      burst: perMinute,
    });
    if (!decision.allowed) {
      return toolErrorResult(
        'rate_limited',
        `The tenant's ${perMinute} tool calls per minute are used up; retry in ${Math.max(1, Math.ceil(decision.retryAfterSeconds))} s`,
        { retryable: true },
      );
    }
    return undefined;
  };
}
