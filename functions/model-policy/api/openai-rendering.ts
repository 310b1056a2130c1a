import type { FinishReason } from '../../shared/contracts/chat.ts';
import type { ModelRoute, PolicyOutcome } from '../../shared/contracts/model-invocation.ts';
import type { StoredCall } from '../schemas/stored-call.ts';
import type { StreamDelta } from '../invocation/stream-pump.ts';
import { usdFromNano } from '../metering/money.ts';
import type { ChatCompletion, ChatCompletionChunk } from '../schemas/openai-chat.ts';

/** Identity shared by every chunk of one streamed completion. */
export type ChunkIdentity = { id: string; created: number; model: string };

/** The OpenAI chat completion of a call. */
export function chatCompletionOf(call: StoredCall): ChatCompletion {
  return {
    id: call.completion_id,
    object: 'chat.completion',
    created: call.created,
    model: call.model,
    choices: [
      {
        index: 0,
        message: { ...call.message, refusal: call.message.refusal ?? null },
        finish_reason: call.finish_reason,
        logprobs: null,
      },
    ],
    usage: {
      prompt_tokens: call.usage.prompt_tokens,
      completion_tokens: call.usage.completion_tokens,
      total_tokens: call.usage.prompt_tokens + call.usage.completion_tokens,
    },
    system_fingerprint: null,
  };
}

function chunk(
  identity: ChunkIdentity,
  delta: ChatCompletionChunk['choices'][number]['delta'],
  finishReason: FinishReason | null,
): ChatCompletionChunk {
  return {
    id: identity.id,
    object: 'chat.completion.chunk',
    created: identity.created,
    model: identity.model,
    choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
    usage: null,
    system_fingerprint: null,
  };
}

/** One SSE event carrying JSON. */
export function sseEvent(value: unknown): string {
  return `data: ${JSON.stringify(value)}\n\n`;
}

/** The SSE event that ends an OpenAI stream. */
export const sseDone = 'data: [DONE]\n\n';

/** Turns stream deltas into OpenAI chunks: the first carries the role, a tool call's first its id. */
export class ChunkWriter {
  readonly #identity: ChunkIdentity;
  #first = true;

  constructor(identity: ChunkIdentity) {
    this.#identity = identity;
  }

  delta(delta: StreamDelta): string {
    const out: ChatCompletionChunk['choices'][number]['delta'] = {};
    if (this.#first) out.role = 'assistant';
    this.#first = false;
    if (delta.content !== undefined) out.content = delta.content;
    if (delta.tool_calls !== undefined) {
      out.tool_calls = delta.tool_calls.map((call) => ({
        index: call.index,
        ...(call.id === undefined ? {} : { id: call.id, type: 'function' as const }),
        function: {
          ...(call.name === undefined ? {} : { name: call.name }),
          arguments: call.arguments ?? '',
        },
      }));
    }
    return sseEvent(chunk(this.#identity, out, null));
  }

  /** The finish chunk, the usage chunk and `[DONE]`. */
  finish(call: StoredCall): string {
    const finish = sseEvent(
      chunk(this.#identity, this.#first ? { role: 'assistant' } : {}, call.finish_reason),
    );
    const usage: ChatCompletionChunk = {
      id: this.#identity.id,
      object: 'chat.completion.chunk',
      created: this.#identity.created,
      model: this.#identity.model,
      choices: [],
      usage: {
        prompt_tokens: call.usage.prompt_tokens,
        completion_tokens: call.usage.completion_tokens,
        total_tokens: call.usage.prompt_tokens + call.usage.completion_tokens,
      },
      system_fingerprint: null,
    };
    this.#first = false;
    return finish + sseEvent(usage) + sseDone;
  }
}

/** A stored call as the SSE stream a replay of a streamed request sends. */
export function* replayChunks(call: StoredCall): Generator<string> {
  const writer = new ChunkWriter({ id: call.completion_id, created: call.created, model: call.model });
  const { message } = call;
  if (message.content !== null && message.content !== '')
    yield writer.delta({ type: 'delta', content: message.content });
  if (message.tool_calls !== undefined && message.tool_calls.length > 0) {
    yield writer.delta({
      type: 'delta',
      tool_calls: message.tool_calls.map((toolCall, index) => ({
        index,
        id: toolCall.id,
        name: toolCall.function.name,
        arguments: toolCall.function.arguments,
      })),
    });
  }
  yield writer.finish(call);
}

/** Response headers that tell an OpenAI client's caller what the gateway did. */
export function gatewayHeaders(facts: {
  requestId: string;
  route: ModelRoute;
  policy: PolicyOutcome;
  replayed: boolean;
  costNano?: number;
}): Record<string, string> {
  return {
    'x-request-id': facts.requestId,
    'x-agentos-route': JSON.stringify(facts.route),
    'x-agentos-policy': JSON.stringify({
      decision: facts.policy.decision,
      redactions: facts.policy.redactions,
    }),
    ...(facts.costNano === undefined ? {} : { 'x-agentos-cost-usd': String(usdFromNano(facts.costNano)) }),
    ...(facts.replayed ? { 'x-agentos-replayed': 'true' } : {}),
  };
}
