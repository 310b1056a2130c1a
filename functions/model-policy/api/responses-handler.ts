import { Readable } from 'node:stream';
import { toErrorEnvelope } from '../../shared/errors/error-envelope.ts';
import type { RouteHandler, RouteInput, RouteResult } from '../../shared/http/bound-route.ts';
import type { RateDecision } from '../../shared/limits/limiter-port.ts';
import { rateLimitHeaders } from '../../shared/limits/rate-limit-headers.ts';
import type { ModelCallInput, PassThroughOptions } from '../invocation/model-call.ts';
import type { ModelGateway, StreamStart } from '../invocation/model-gateway.ts';
import { modelRequestRateOf } from '../invocation/model-request-rate.ts';
import { requestFingerprint } from '../invocation/request-fingerprint.ts';
import { checkResponseFormat } from '../invocation/response-format.ts';
import type { CreateResponseRequest } from '../schemas/openai-responses.ts';
import type { createResponse } from './model-policy-api.ts';
import { gatewayHeaders } from './openai-rendering.ts';
import { requestIdFrom } from './request-id.ts';
import { ResponseEventWriter, replayEvents, responseOf } from './responses-rendering.ts';
import { translateResponsesRequest } from './responses-translation.ts';
import type { TranslatedRequest } from './responses-translation.ts';

const sseHeaders = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
};

/** The OpenAI options forwarded to OpenAI-compatible backends, as on the chat route; nothing is stored. */
function passThroughOf(body: CreateResponseRequest, translated: TranslatedRequest): PassThroughOptions {
  return {
    ...(body.user === undefined ? {} : { user: body.user }),
    ...(body.parallel_tool_calls === undefined || body.parallel_tool_calls === null
      ? {}
      : { parallel_tool_calls: body.parallel_tool_calls }),
    ...(body.metadata === undefined || body.metadata === null ? {} : { metadata: body.metadata }),
    ...(translated.responseFormat === undefined ? {} : { response_format: translated.responseFormat }),
  };
}

function callInput(
  request: RouteInput<typeof createResponse>,
  translated: TranslatedRequest,
  requestId: string,
): ModelCallInput {
  const { body } = request;
  return {
    auth: request.auth,
    endpoint: 'responses',
    stream: body.stream === true,
    requestId,
    fingerprint: requestFingerprint('responses', body.model, body),
    correlationId: request.correlationId,
    modelRef: body.model,
    messages: translated.messages,
    ...(translated.tools === undefined ? {} : { tools: translated.tools }),
    ...(translated.toolChoice === undefined ? {} : { toolChoice: translated.toolChoice }),
    ...(body.max_output_tokens === undefined || body.max_output_tokens === null
      ? {}
      : { maxTokens: body.max_output_tokens }),
    ...(body.temperature === undefined || body.temperature === null ? {} : { temperature: body.temperature }),
    ...(body.top_p === undefined || body.top_p === null ? {} : { topP: body.top_p }),
    passThrough: passThroughOf(body, translated),
    attribution: {},
    signal: request.signal,
    ...(request.tenant === undefined ? {} : { requestRate: modelRequestRateOf(request.tenant.quotas) }),
  };
}

/** The `RateLimit-*` fields of the tenant's model call bucket after this call (HLD §10.2). */
function rateHeaders(rateLimit: RateDecision | undefined): Record<string, string> {
  return rateLimit === undefined ? {} : rateLimitHeaders(rateLimit);
}

async function* liveEvents(
  start: Extract<StreamStart, { kind: 'live' }>,
  body: CreateResponseRequest,
  correlationId: string,
): AsyncGenerator<string> {
  const writer = new ResponseEventWriter(
    { completionId: start.completionId, created: start.created, model: start.model },
    body,
  );
  yield writer.start();
  try {
    for await (const event of start.events) {
      yield event.type === 'delta' ? writer.delta(event) : writer.finish(event.call);
    }
  } catch (error) {
    // Headers are gone: the failure travels as `response.failed` and an `error` event, as OpenAI's do.
    const { envelope } = toErrorEnvelope(error, correlationId);
    yield writer.fail(envelope.error.code, envelope.error.message);
  }
}

/**
 * `POST /v1/responses` (scope `models:invoke`): OpenAI's Responses API, stateless, translated onto
 * the chat completion path so policy, budgets, idempotency and metering apply as on
 * `POST /v1/chat/completions` (HLD §2.1 Model API). The same headers come back.
 */
export function responsesHandler(gateway: ModelGateway): RouteHandler<typeof createResponse> {
  return async (request): Promise<RouteResult> => {
    const { body } = request;
    const requestId = requestIdFrom(request.headers);
    const translated = translateResponsesRequest(body);
    checkResponseFormat(translated.responseFormat, 'text.format.schema');
    const input = callInput(request, translated, requestId);
    if (!input.stream) {
      const { call, replayed, rateLimit } = await gateway.complete(input);
      return {
        status: 200,
        headers: {
          ...gatewayHeaders({
            requestId,
            route: call.route,
            policy: call.policy,
            replayed,
            costNano: call.usage.cost_nano,
          }),
          ...rateHeaders(rateLimit),
        },
        json: responseOf(call, body),
      };
    }
    const start = await gateway.openStream(input);
    if (start.kind === 'replay') {
      const { call } = start;
      return {
        status: 200,
        headers: {
          ...sseHeaders,
          ...gatewayHeaders({ requestId, route: call.route, policy: call.policy, replayed: true }),
          ...rateHeaders(start.rateLimit),
        },
        stream: Readable.from(replayEvents(call, body)),
      };
    }
    return {
      status: 200,
      headers: {
        ...sseHeaders,
        ...gatewayHeaders({ requestId, route: start.route, policy: start.policy, replayed: false }),
        ...rateHeaders(start.rateLimit),
      },
      stream: Readable.from(liveEvents(start, body, request.correlationId)),
    };
  };
}
