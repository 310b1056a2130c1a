import type { RouteHandler } from '../../shared/http/bound-route.ts';
import type { ModelGateway } from '../invocation/model-gateway.ts';
import type { checkPolicy } from './model-policy-api.ts';

/**
 * `POST /v1/policy/check` (scope `policy:check`): what the policy and the budgets would make of a
 * call, without calling a model or reserving anything (HLD §6.2). A denial is an answer (200).
 */
export function policyCheckHandler(gateway: ModelGateway): RouteHandler<typeof checkPolicy> {
  return async ({ auth, body }) => {
    const result = await gateway.check({
      auth,
      modelRef: body.model_ref,
      messages: body.messages,
      ...(body.tools === undefined ? {} : { tools: body.tools }),
      ...(body.max_tokens === undefined ? {} : { maxTokens: body.max_tokens }),
      ...(body.attribution?.run_id === undefined ? {} : { runId: body.attribution.run_id }),
    });
    return { status: 200, json: result };
  };
}
