import { scopes } from '../../shared/auth/auth-context.ts';
import type { Route } from '../../shared/http/api-types.ts';
import { parseJsonBody } from '../../shared/http/json-body.ts';
import type { ModelGateway } from '../invocation/model-gateway.ts';
import { PolicyCheckRequestSchema } from '../schemas/policy-check.ts';

/**
 * `POST /v1/policy/check` (scope `policy:check`): what the policy and the budgets would make of a
 * call, without calling a model or reserving anything (HLD §6.2). A denial is an answer (200).
 */
export function policyCheckRoute(gateway: ModelGateway, maxBodyBytes: number): Route {
  return {
    method: 'POST',
    path: '/v1/policy/check',
    scope: scopes.policyCheck,
    async handle(request) {
      const body = parseJsonBody(request.body, PolicyCheckRequestSchema, { maxBytes: maxBodyBytes });
      const result = await gateway.check({
        auth: request.auth,
        modelRef: body.model_ref,
        messages: body.messages,
        ...(body.tools === undefined ? {} : { tools: body.tools }),
        ...(body.max_tokens === undefined ? {} : { maxTokens: body.max_tokens }),
        ...(body.attribution?.run_id === undefined ? {} : { runId: body.attribution.run_id }),
      });
      return { status: 200, json: result };
    },
  };
}
