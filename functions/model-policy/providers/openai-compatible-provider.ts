import type { AssistantMessage, FinishReason } from '../../shared/contracts/chat.ts';
import { withTraceparent } from '../../shared/observability/trace-context.ts';
import { ProviderError } from '../ports/model-provider-port.ts';
import type {
  EmbeddingProviderRequest,
  EmbeddingProviderResult,
  ModelProvider,
  ProviderRequest,
  ProviderResult,
  ProviderStreamChunk,
  ProviderUsage,
} from '../ports/model-provider-port.ts';
import {
  ChatCompletionChunkSchema,
  ChatCompletionSchema,
  EmbeddingListSchema,
  UpstreamErrorSchema,
} from './openai-wire.ts';
import { sseData } from './sse-data.ts';
import { estimatePromptTokens } from '../metering/token-estimate.ts';
import { failureKindOfStatus, upstreamMessage } from './upstream-failure.ts';

/** Options of {@link OpenAiCompatibleProvider}. */
export type OpenAiCompatibleProviderOptions = {
  /**
   * Base URL up to the API version: `https://api.openai.com/v1`, `http://vllm-host:8000/v1`,
   * `http://localhost:11434/v1` (Ollama). Requests go to `{baseUrl}/chat/completions` and
   * `{baseUrl}/embeddings`.
   */
  baseUrl: string;
  /** Sent as a bearer token. Resolved by the caller from configuration or Secrets Manager, never from a request. */
  apiKey?: string;
  /** Backend kind for routes and metering; `openai` unless told (e.g. `vllm`, `ollama`). */
  kind?: string;
  /** Name of the output-token limit field; `max_tokens` is understood by OpenAI, vLLM and Ollama alike. */
  maxTokensField?: 'max_tokens' | 'max_completion_tokens';
  /** The fetch to use (tests, proxies); the global one by default. */
  fetch?: typeof globalThis.fetch;
};

/** Bytes of an error body kept to explain a failure. */
const maxErrorBodyBytes = 16_384;

/**
 * A backend speaking OpenAI's chat-completions API: OpenAI itself, vLLM and Ollama, told apart only by
 * base URL. Requests already have the OpenAI shape, so messages and tools pass through unchanged;
 * answers are validated before use. The per-call timeout is the request's abort signal.
 */
export class OpenAiCompatibleProvider implements ModelProvider {
  readonly kind: string;
  readonly #url: string;
  readonly #embeddingsUrl: string;
  readonly #apiKey: string | undefined;
  readonly #maxTokensField: 'max_tokens' | 'max_completion_tokens';
  readonly #fetch: typeof globalThis.fetch;

  constructor(options: OpenAiCompatibleProviderOptions) {
    this.kind = options.kind ?? 'openai';
    this.#url = `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`;
    this.#embeddingsUrl = `${options.baseUrl.replace(/\/+$/, '')}/embeddings`;
    this.#apiKey = options.apiKey;
    this.#maxTokensField = options.maxTokensField ?? 'max_tokens';
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  async complete(request: ProviderRequest): Promise<ProviderResult> {
    const response = await this.#post(request, false);
    let body: unknown;
    try {
      body = await response.json();
    } catch (error) {
      if (request.signal.aborted) throw this.#timeout(error);
      if (error instanceof SyntaxError) throw this.#unexpectedBody(response.status, error);
      throw new ProviderError('connection', `${this.kind}: the response body could not be read`, {
        cause: error,
      });
    }
    const parsed = ChatCompletionSchema.safeParse(body);
    if (!parsed.success) throw this.#unexpectedBody(response.status, parsed.error);
    const choice = parsed.data.choices[0]!;
    const toolCalls = (choice.message.tool_calls ?? []).map((call) => ({
      id: call.id,
      type: 'function' as const,
      function: { name: call.function.name, arguments: call.function.arguments },
    }));
    const message: AssistantMessage = {
      role: 'assistant',
      content: choice.message.content ?? (toolCalls.length > 0 ? null : ''),
      ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
      ...(typeof choice.message.refusal === 'string' ? { refusal: choice.message.refusal } : {}),
    };
    return {
      message,
      finish_reason: finishReason(choice.finish_reason, toolCalls.length > 0),
      usage: parsed.data.usage ?? estimatedUsage(request, outputBytes(message)),
    };
  }

  async *stream(request: ProviderRequest): AsyncIterable<ProviderStreamChunk> {
    const response = await this.#post(request, true);
    if (response.body === null) throw this.#unexpectedBody(response.status, 'no body');
    const started = new Set<number>();
    let finish: string | undefined;
    let usage: ProviderUsage | undefined;
    let done = false;
    let streamedBytes = 0;
    let sawToolCalls = false;
    try {
      for await (const data of sseData(response.body)) {
        if (data.trim() === '[DONE]') {
          done = true;
          break;
        }
        const chunk = this.#parseChunk(data);
        if (chunk.usage !== undefined && chunk.usage !== null) usage = chunk.usage;
        for (const choice of chunk.choices) {
          if ((choice.index ?? 0) !== 0) continue;
          if (choice.finish_reason !== undefined && choice.finish_reason !== null)
            finish = choice.finish_reason;
          const content = choice.delta?.content;
          const toolCalls = (choice.delta?.tool_calls ?? []).map((delta, position) => {
            const index = delta.index ?? position;
            const args = delta.function?.arguments ?? '';
            streamedBytes += Buffer.byteLength(args);
            if (started.has(index)) return { index, arguments: args };
            // Some servers repeat id and name on every delta; consumers concatenate, so send them once.
            started.add(index);
            const name = delta.function?.name ?? '';
            streamedBytes += Buffer.byteLength(name);
            return { index, id: delta.id ?? `call_${index}`, name, arguments: args };
          });
          if (toolCalls.length > 0) sawToolCalls = true;
          if (typeof content === 'string' && content !== '') streamedBytes += Buffer.byteLength(content);
          if ((typeof content === 'string' && content !== '') || toolCalls.length > 0) {
            yield {
              type: 'delta',
              ...(typeof content === 'string' && content !== '' ? { content } : {}),
              ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
            };
          }
        }
      }
    } catch (error) {
      if (error instanceof ProviderError) throw error;
      if (request.signal.aborted) throw this.#timeout(error);
      throw new ProviderError('stream_cut', `${this.kind}: the stream broke before it finished`, {
        cause: error,
      });
    }
    // Without [DONE] the usage chunk may still have been on its way: only a finished, metered stream counts.
    if (finish === undefined || (!done && usage === undefined)) {
      throw new ProviderError('stream_cut', `${this.kind}: the stream ended before it finished`);
    }
    yield {
      type: 'finish',
      finish_reason: finishReason(finish, sawToolCalls),
      usage: usage ?? estimatedUsage(request, streamedBytes),
    };
  }

  /**
   * Forwards to `{baseUrl}/embeddings`, always asking for floats (the gateway encodes base64 itself),
   * and checks there is one vector per input, each with the length asked for.
   */
  async embed(request: EmbeddingProviderRequest): Promise<EmbeddingProviderResult> {
    const body = {
      model: request.model,
      input: request.input,
      encoding_format: 'float',
      ...(request.dimensions === undefined ? {} : { dimensions: request.dimensions }),
      ...(request.user === undefined ? {} : { user: request.user }),
    };
    const response = await this.#send(this.#embeddingsUrl, body, false, request.signal);
    let json: unknown;
    try {
      json = await response.json();
    } catch (error) {
      if (request.signal.aborted) throw this.#timeout(error);
      if (error instanceof SyntaxError) throw this.#unexpectedBody(response.status, error);
      throw new ProviderError('connection', `${this.kind}: the response body could not be read`, {
        cause: error,
      });
    }
    const parsed = EmbeddingListSchema.safeParse(json);
    if (!parsed.success) throw this.#unexpectedBody(response.status, parsed.error);
    const vectors: number[][] = [];
    for (const item of parsed.data.data) vectors[item.index] = item.embedding;
    const lengths = new Set(vectors.map((vector) => vector.length));
    if (
      vectors.length !== request.input.length ||
      vectors.some((vector) => vector === undefined) ||
      lengths.size !== 1 ||
      (request.dimensions !== undefined && !lengths.has(request.dimensions))
    ) {
      throw this.#unexpectedBody(response.status, new Error('not one vector of the asked length per input'));
    }
    return {
      embeddings: vectors,
      usage: {
        // A server that reports no usage is metered at the estimate's upper bound: one token per byte.
        prompt_tokens:
          parsed.data.usage?.prompt_tokens ??
          request.input.reduce((sum, text) => sum + Buffer.byteLength(text), 0),
      },
    };
  }

  #post(request: ProviderRequest, stream: boolean): Promise<Response> {
    return this.#send(this.#url, this.#body(request, stream), stream, request.signal);
  }

  async #send(url: string, body: unknown, stream: boolean, signal: AbortSignal): Promise<Response> {
    // The caller's W3C trace goes on to the provider (HLD §9.1).
    const headers: Record<string, string> = withTraceparent({
      'content-type': 'application/json',
      accept: stream ? 'text/event-stream' : 'application/json',
    });
    if (this.#apiKey !== undefined && this.#apiKey !== '')
      headers['authorization'] = `Bearer ${this.#apiKey}`;
    let response: Response;
    try {
      response = await this.#fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal,
      });
    } catch (error) {
      if (signal.aborted) throw this.#timeout(error);
      throw new ProviderError('connection', `${this.kind}: could not reach the backend`, { cause: error });
    }
    if (!response.ok) throw await this.#httpFailure(response, signal);
    return response;
  }

  #body(request: ProviderRequest, stream: boolean): Record<string, unknown> {
    return {
      model: request.model,
      messages: request.messages,
      ...(request.tools !== undefined && request.tools.length > 0 ? { tools: request.tools } : {}),
      ...(request.tool_choice !== undefined ? { tool_choice: request.tool_choice } : {}),
      [this.#maxTokensField]: request.max_tokens,
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
      ...(request.top_p !== undefined ? { top_p: request.top_p } : {}),
      ...(request.stop !== undefined && request.stop.length > 0 ? { stop: request.stop } : {}),
      ...(request.seed !== undefined ? { seed: request.seed } : {}),
      ...(request.user !== undefined ? { user: request.user } : {}),
      // OpenAI refuses parallel_tool_calls without tools, and metadata unless the completion is stored.
      ...(request.parallel_tool_calls !== undefined && request.tools !== undefined && request.tools.length > 0
        ? { parallel_tool_calls: request.parallel_tool_calls }
        : {}),
      ...(request.store !== undefined ? { store: request.store } : {}),
      ...(request.response_format !== undefined ? { response_format: request.response_format } : {}),
      ...(request.metadata !== undefined && request.store === true ? { metadata: request.metadata } : {}),
      ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    };
  }

  #parseChunk(data: string): ReturnType<typeof ChatCompletionChunkSchema.parse> {
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch (error) {
      throw this.#unexpectedBody(200, error);
    }
    const failure = UpstreamErrorSchema.safeParse(json);
    if (failure.success) {
      const { message, status } = describeUpstreamError(failure.data.error);
      throw new ProviderError(
        status === undefined ? 'server_error' : failureKindOfStatus(status),
        `${this.kind}: error in stream: ${message}`,
        { status },
      );
    }
    const chunk = ChatCompletionChunkSchema.safeParse(json);
    if (!chunk.success) throw this.#unexpectedBody(200, chunk.error);
    return chunk.data;
  }

  async #httpFailure(response: Response, signal: AbortSignal): Promise<ProviderError> {
    let text = '';
    try {
      text = (await response.text()).slice(0, maxErrorBodyBytes);
    } catch (error) {
      if (signal.aborted) return this.#timeout(error);
    }
    let detail = text;
    try {
      const failure = UpstreamErrorSchema.safeParse(JSON.parse(text));
      if (failure.success) detail = describeUpstreamError(failure.data.error).message;
    } catch (error) {
      // Not JSON: the raw text explains the failure well enough.
      if (!(error instanceof SyntaxError)) throw error;
    }
    return new ProviderError(
      failureKindOfStatus(response.status),
      `${this.kind} answered ${response.status}${detail === '' ? '' : `: ${upstreamMessage(detail)}`}`,
      { status: response.status },
    );
  }

  #timeout(cause: unknown): ProviderError {
    return new ProviderError('timeout', `${this.kind}: the call timed out or was aborted`, { cause });
  }

  #unexpectedBody(status: number, cause: unknown): ProviderError {
    return new ProviderError('server_error', `${this.kind}: the backend answered with an unexpected body`, {
      status,
      cause,
    });
  }
}

function describeUpstreamError(error: string | { message?: string | null; code?: string | number | null }): {
  message: string;
  status: number | undefined;
} {
  if (typeof error === 'string') return { message: error, status: undefined };
  const status =
    typeof error.code === 'number' && error.code >= 400 && error.code < 600 ? error.code : undefined;
  return { message: error.message ?? String(error.code ?? 'unknown error'), status };
}

function finishReason(reason: string | null | undefined, hasToolCalls: boolean): FinishReason {
  switch (reason) {
    case 'stop':
    case 'length':
    case 'tool_calls':
    case 'content_filter':
      return reason;
    case 'function_call':
      return 'tool_calls';
    default:
      return hasToolCalls ? 'tool_calls' : 'stop';
  }
}

function outputBytes(message: AssistantMessage): number {
  let bytes = Buffer.byteLength(message.content ?? '');
  for (const call of message.tool_calls ?? []) {
    bytes += Buffer.byteLength(call.function.name) + Buffer.byteLength(call.function.arguments);
  }
  return bytes;
}

/**
 * Usage when a backend reports none: an upper bound, so metering and budgets never under-count — the
 * prompt estimate, and the output's bytes capped at `max_tokens`.
 */
function estimatedUsage(request: ProviderRequest, bytesOut: number): ProviderUsage {
  return {
    prompt_tokens: estimatePromptTokens(request.messages, request.tools),
    completion_tokens: Math.min(request.max_tokens, bytesOut),
  };
}
