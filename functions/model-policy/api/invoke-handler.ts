import type { ModelInvokeResponse } from '../../shared/contracts/model-invocation.ts';
import { InvalidRequestError } from '../../shared/errors/agentos-error.ts';
import type { RouteHandler } from '../../shared/http/bound-route.ts';
import type { ModelGateway } from '../invocation/model-gateway.ts';
import { requestFingerprint } from '../invocation/request-fingerprint.ts';
import { usdFromNano } from '../metering/money.ts';
import type { invokeModel } from './model-policy-api.ts';
import { rateLimitHeaders } from '../../shared/limits/rate-limit-headers.ts';
import { modelRequestRateOf } from '../invocation/model-request-rate.ts';

/**
 * `POST /v1/models/{model_ref}:invoke` (scope `models:invoke`): the native form the Orchestrator's
 * ModelPort uses (HLD §6.1). `model_ref` arrives URL-encoded (`local%2Fscripted`, `tier:fast`). The
 * tenant's model call bucket after the call comes back as `RateLimit-*` headers.
 */
export function invokeHandler(gateway: ModelGateway): RouteHandler<typeof invokeModel> {
  return async ({ params, body, headers, auth, tenant, correlationId, signal }) => {
    const modelRef = params.model_ref;
    const headerId = headers['x-request-id'];
    if (headerId !== undefined && headerId !== '' && headerId !== body.request_id) {
      throw new InvalidRequestError("X-Request-Id differs from the body's request_id", [
        { field: 'X-Request-Id', message: 'must equal request_id' },
      ]);
    }
    const { request_id: requestId, ...rest } = body;
    const { call, replayed, rateLimit } = await gateway.complete({
      auth,
      endpoint: 'invoke',
      stream: false,
      requestId,
      fingerprint: requestFingerprint('invoke', modelRef, rest),
      correlationId,
      modelRef,
      messages: body.messages,
      ...(body.tools === undefined ? {} : { tools: body.tools }),
      ...(body.max_tokens === undefined ? {} : { maxTokens: body.max_tokens }),
      ...(body.temperature === undefined ? {} : { temperature: body.temperature }),
      ...(body.requirements?.tools === true ? { requireTools: true } : {}),
      ...(body.requirements?.max_latency_ms === undefined
        ? {}
        : { maxLatencyMs: body.requirements.max_latency_ms }),
      attribution: {
        ...(body.attribution?.run_id === undefined ? {} : { runId: body.attribution.run_id }),
        ...(body.attribution?.step === undefined ? {} : { step: body.attribution.step }),
      },
      signal,
      ...(tenant === undefined ? {} : { requestRate: modelRequestRateOf(tenant.quotas) }),
    });
    const response: ModelInvokeResponse = {
      request_id: requestId,
      correlation_id: correlationId,
      output: { message: call.message, finish_reason: call.finish_reason },
      usage: {
        prompt_tokens: call.usage.prompt_tokens,
        completion_tokens: call.usage.completion_tokens,
        total_tokens: call.usage.prompt_tokens + call.usage.completion_tokens,
        cost_usd: usdFromNano(call.usage.cost_nano),
      },
      route: call.route,
      policy: call.policy,
      replayed,
    };
    return {
      status: 200,
      headers: {
        'x-request-id': requestId,
        // The tenant's model call bucket after this call (HLD §10.2).
        ...(rateLimit === undefined ? {} : rateLimitHeaders(rateLimit)),
      },
      json: response,
    };
  };
}
