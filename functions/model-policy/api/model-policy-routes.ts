import { healthRoute } from '../../shared/http/health-route.ts';
import type { Route } from '../../shared/http/api-types.ts';
import type { GatewayLog } from '../invocation/model-call.ts';
import type { ModelGateway } from '../invocation/model-gateway.ts';
import type { UsageReporter } from '../metering/usage-reporter.ts';
import type { TenantPolicySource } from '../policy/tenant-policy-source.ts';
import type { ModelCatalog } from '../schemas/model-catalog.ts';
import { adminPolicyRoutes, defaultOperatorTenantId } from './admin-policy-routes.ts';
import { chatCompletionsRoute } from './chat-completions-route.ts';
import { invokeRoute } from './invoke-route.ts';
import { modelsRoutes } from './models-routes.ts';
import { withOpenAiErrorHeaders } from './openai-errors.ts';
import { policyCheckRoute } from './policy-check-route.ts';
import { usageRoute } from './usage-route.ts';

/** What the Model Policy's routes are built on. */
export type ModelPolicyRouteDeps = {
  gateway: ModelGateway;
  reporter: UsageReporter;
  policies: TenantPolicySource;
  catalog: ModelCatalog;
  maxBodyBytes: number;
  log: GatewayLog;
  now: () => Date;
  /** The platform tenant whose operators administer other tenants; `operator` when absent. */
  operatorTenantId?: string;
};

/** Every route of the Model Policy API (HLD §2.1 Model API). */
export function modelPolicyRoutes(deps: ModelPolicyRouteDeps): Route[] {
  const openAi = (route: Route): Route => withOpenAiErrorHeaders(route, deps.log);
  return [
    healthRoute('model-policy'),
    openAi(chatCompletionsRoute(deps.gateway, deps.maxBodyBytes)),
    ...modelsRoutes(deps.catalog, deps.policies).map(openAi),
    invokeRoute(deps.gateway, deps.maxBodyBytes),
    policyCheckRoute(deps.gateway, deps.maxBodyBytes),
    usageRoute(deps.reporter),
    ...adminPolicyRoutes(deps.policies, deps.now, deps.operatorTenantId ?? defaultOperatorTenantId),
  ];
}
