import { toErrorEnvelope } from '../../shared/errors/error-envelope.ts';
import type { RouteHandler, RouteInput, RouteResult } from '../../shared/http/bound-route.ts';
import type { ModelCallInput } from '../invocation/model-call.ts';
import type { ModelGateway, StreamStart } from '../invocation/model-gateway.ts';
import type { ChatCompletionRequest, ChatRequestMessage } from '../schemas/openai-chat.ts';
import type { ChatMessage } from '../../shared/contracts/chat.ts';
import type { PassThroughOptions } from '../invocation/model-call.ts';
import type { createChatCompletion } from './model-policy-api.ts';
import { ChunkWriter, chatCompletionOf, replayChunks, sseEvent } from './openai-rendering.ts';
import { requestIdFrom } from './request-id.ts';
import { checkResponseFormat } from '../invocation/response-format.ts';
import { callBasis, completedAnswer, samplingOf, streamedAnswer } from './gateway-call.ts';

/**
 * The message as the gateway carries it: an assistant message without content holds `null`, and the
 * response fields a client echoes back (`annotations`, `audio`, `function_call`, a null `refusal`)
 * are dropped — no backend takes them as input.
 */
function chatMessageOf(message: ChatRequestMessage): ChatMessage {
  if (message.role !== 'assistant') return message;
  return {
    role: 'assistant',
    content: message.content ?? null,
    ...(message.tool_calls === undefined || message.tool_calls.length === 0
      ? {}
      : { tool_calls: message.tool_calls }),
    ...(message.name === undefined ? {} : { name: message.name }),
    ...(typeof message.refusal === 'string' ? { refusal: message.refusal } : {}),
  };
}

/** The OpenAI request options that OpenAI-compatible backends take; nulls mean "not set". */
function passThroughOf(body: ChatCompletionRequest): PassThroughOptions {
  return {
    ...(body.seed === undefined || body.seed === null ? {} : { seed: body.seed }),
    ...(body.user === undefined ? {} : { user: body.user }),
    ...(body.parallel_tool_calls === undefined ? {} : { parallel_tool_calls: body.parallel_tool_calls }),
    ...(body.metadata === undefined || body.metadata === null ? {} : { metadata: body.metadata }),
    ...(body.store === undefined || body.store === null ? {} : { store: body.store }),
    ...(body.response_format === undefined || body.response_format === null
      ? {}
      : { response_format: body.response_format }),
  };
}

function callInput(
  request: RouteInput<typeof createChatCompletion>,
  body: ChatCompletionRequest,
  requestId: string,
): ModelCallInput {
  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? undefined;
  const stop = typeof body.stop === 'string' ? [body.stop] : (body.stop ?? undefined);
  return {
    ...callBasis(request, 'chat.completions', { modelRef: body.model, requestId, meaning: body }),
    stream: body.stream === true,
    messages: body.messages.map(chatMessageOf),
    ...(body.tools === undefined ? {} : { tools: body.tools }),
    ...(body.tool_choice === undefined ? {} : { toolChoice: body.tool_choice }),
    ...(maxTokens === undefined ? {} : { maxTokens }),
    ...samplingOf(body),
    ...(stop === undefined ? {} : { stop }),
    passThrough: passThroughOf(body),
  };
}

async function* liveSse(
  start: Extract<StreamStart, { kind: 'live' }>,
  correlationId: string,
): AsyncGenerator<string> {
  const writer = new ChunkWriter({ id: start.completionId, created: start.created, model: start.model });
  try {
    for await (const event of start.events) {
      yield event.type === 'delta' ? writer.delta(event) : writer.finish(event.call);
    }
  } catch (error) {
    // Headers are gone: the failure travels as an error event, which OpenAI clients raise.
    yield sseEvent(toErrorEnvelope(error, correlationId).envelope);
  }
}

/**
 * `POST /v1/chat/completions` (scope `models:invoke`): the OpenAI-compatible form. `X-Request-Id`
 * names the request for dedupe (one is generated when absent); the route taken, the policy decision
 * and the cost come back as `x-agentos-*` headers, the tenant's model call bucket as `RateLimit-*`.
 */
export function chatCompletionsHandler(gateway: ModelGateway): RouteHandler<typeof createChatCompletion> {
  return async (request): Promise<RouteResult> => {
    const { body } = request;
    const requestId = requestIdFrom(request.headers);
    await checkResponseFormat(body.response_format ?? undefined);
    const input = callInput(request, body, requestId);
    if (!input.stream) {
      const outcome = await gateway.complete(input);
      return completedAnswer(requestId, outcome, chatCompletionOf(outcome.call));
    }
    return streamedAnswer(requestId, await gateway.openStream(input), {
      replay: replayChunks,
      live: (start) => liveSse(start, request.correlationId),
    });
  };
}
