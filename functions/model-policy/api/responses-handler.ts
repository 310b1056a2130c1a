import { toErrorEnvelope } from '../../shared/errors/error-envelope.ts';
import type { RouteHandler, RouteInput, RouteResult } from '../../shared/http/bound-route.ts';
import type { ModelCallInput, PassThroughOptions } from '../invocation/model-call.ts';
import type { ModelGateway, StreamStart } from '../invocation/model-gateway.ts';
import { checkResponseFormat } from '../invocation/response-format.ts';
import type { CreateResponseRequest } from '../schemas/openai-responses.ts';
import type { createResponse } from './model-policy-api.ts';
import { callBasis, completedAnswer, samplingOf, streamedAnswer } from './gateway-call.ts';
import { requestIdFrom } from './request-id.ts';
import { ResponseEventWriter, replayEvents, responseOf } from './responses-rendering.ts';
import { translateResponsesRequest } from './responses-translation.ts';
import type { TranslatedRequest } from './responses-translation.ts';

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
    ...callBasis(request, 'responses', { modelRef: body.model, requestId, meaning: body }),
    stream: body.stream === true,
    messages: translated.messages,
    ...(translated.tools === undefined ? {} : { tools: translated.tools }),
    ...(translated.toolChoice === undefined ? {} : { toolChoice: translated.toolChoice }),
    ...(body.max_output_tokens === undefined || body.max_output_tokens === null
      ? {}
      : { maxTokens: body.max_output_tokens }),
    ...samplingOf(body),
    passThrough: passThroughOf(body, translated),
  };
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
    await checkResponseFormat(translated.responseFormat, 'text.format.schema');
    const input = callInput(request, translated, requestId);
    if (!input.stream) {
      const outcome = await gateway.complete(input);
      return completedAnswer(requestId, outcome, responseOf(outcome.call, body));
    }
    return streamedAnswer(requestId, await gateway.openStream(input), {
      replay: (call) => replayEvents(call, body),
      live: (start) => liveEvents(start, body, request.correlationId),
    });
  };
}
