import type { RouteHandler, RouteHandlers } from '../../shared/http/bound-route.ts';
import { healthHandler } from '../../shared/http/health-route.ts';
import type { readinessRoute } from '../../shared/http/health-route.ts';
import type { ModelGateway } from '../invocation/model-gateway.ts';
import type { UsageReporter } from '../metering/usage-reporter.ts';
import type { TenantPolicySource } from '../policy/tenant-policy-source.ts';
import type { ModelCatalog } from '../schemas/model-catalog.ts';
import { adminPolicyHandlers, defaultOperatorTenantId } from './admin-policy-handlers.ts';
import { chatCompletionsHandler } from './chat-completions-handler.ts';
import { embeddingsHandler } from './embeddings-handler.ts';
import { abortRequestHandler } from './abort-request-handler.ts';
import { invokeHandler } from './invoke-handler.ts';
import type { modelPolicyRoutes } from './model-policy-api.ts';
import { modelsHandlers } from './models-handlers.ts';
import { responsesHandler } from './responses-handler.ts';
import { policyCheckHandler } from './policy-check-handler.ts';
import { usageHandler } from './usage-handler.ts';

/** What the Model Policy's handlers are built on. */
export type ModelPolicyHandlerDeps = {
  gateway: ModelGateway;
  reporter: UsageReporter;
  policies: TenantPolicySource;
  catalog: ModelCatalog;
  now: () => Date;
  /** The platform tenant whose operators administer other tenants; `operator` when absent. */
  operatorTenantId?: string;
  /** `GET /v1/health/ready`, probing the service's dependencies. */
  readiness: RouteHandler<typeof readinessRoute>;
};

/** The handler of every route of the Model Policy API (HLD §2.1 Model API), by operation id. */
export function modelPolicyHandlers(deps: ModelPolicyHandlerDeps): RouteHandlers<typeof modelPolicyRoutes> {
  return {
    getHealth: healthHandler('model-policy'),
    getReadiness: deps.readiness,
    createChatCompletion: chatCompletionsHandler(deps.gateway),
    createResponse: responsesHandler(deps.gateway),
    createEmbedding: embeddingsHandler(deps.gateway),
    ...modelsHandlers(deps.catalog, deps.policies),
    invokeModel: invokeHandler(deps.gateway),
    abortModelRequest: abortRequestHandler(deps.gateway),
    checkPolicy: policyCheckHandler(deps.gateway),
    getUsage: usageHandler(deps.reporter),
    ...adminPolicyHandlers(deps.policies, deps.now, deps.operatorTenantId ?? defaultOperatorTenantId),
  };
}
