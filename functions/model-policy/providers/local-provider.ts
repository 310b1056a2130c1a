import { contentText } from '../../shared/contracts/chat.ts';
import type { AssistantMessage, FinishReason, ToolCall } from '../../shared/contracts/chat.ts';
import { embeddedScript } from './local-script.ts';
import { sampleOfSchema } from './schema-sample.ts';
import type { LocalTurn } from './local-script.ts';
import { ProviderError } from '../ports/model-provider-port.ts';
import { localEmbedding, localEmbeddingDimensions } from './local-embedding.ts';
import type {
  EmbeddingProviderRequest,
  EmbeddingProviderResult,
  ModelProvider,
  ProviderFailureKind,
  ProviderRequest,
  ProviderResult,
  ProviderStreamChunk,
} from '../ports/model-provider-port.ts';
import {
  countCompletionTokens,
  countTextTokens,
  estimatePromptTokens,
  textWithinTokens,
  toolCallTokens,
} from '../metering/token-estimate.ts';

export type { LocalTurn } from './local-script.ts';

/** Models the local provider serves. */
export const localModelIds = ['echo', 'scripted', 'embed-small'] as const;
/** One of {@link localModelIds}. */
export type LocalModelId = (typeof localModelIds)[number];

/** Options of {@link LocalModelProvider}. */
export type LocalModelProviderOptions = {
  /**
   * Drives the provider from code instead of an embedded `agentos-script` line: the turn to play for
   * this request, or `undefined` to let the model behave as it would without this option.
   */
  script?: (request: ProviderRequest) => LocalTurn | undefined;
};

/** HTTP status a real backend would answer with, so routes and logs look the same. */
const statusOfKind: Partial<Record<ProviderFailureKind, number>> = {
  rate_limited: 429,
  server_error: 500,
  invalid_request: 400,
};

/** Text streamed before a scripted `stream_cut`. */
const cutStreamPrefix = 'partial answer';

/** What `{fill: true}` repeats: three letters and a space are four bytes, so exactly one token each. */
const fillWord = 'tok';

/** Characters per streamed tool-call arguments delta, so arguments arrive in several pieces. */
const argumentsDeltaLength = 8;

type Answer = { cut: false; result: ProviderResult } | { cut: true };

/**
 * The deterministic local backend (kind `local`), for local mode and tests; no network, no model.
 *
 * - `echo` answers `echo: <text of the last user message>`.
 * - With a JSON `response_format` and no scripted reply, both answer JSON generated from it.
 * - `scripted` plays the turns of an `agentos-script: [...]` line found in the first system or user
 *   message (see {@link LocalTurn}); the turn played is the number of assistant messages already in
 *   the request, and past the last turn it answers `done`.
 *
 * - `embed-small` embeds texts as 256-number unit vectors (see `local-embedding.ts`).
 *
 * Usage follows the convention of `token-estimate.ts`: `prompt_tokens` is exactly
 * `estimatePromptTokens(messages, tools)` and `completion_tokens` is `countCompletionTokens(answer)`,
 * which never exceeds `max_tokens` (longer answers are truncated with finish `length`).
 */
export class LocalModelProvider implements ModelProvider {
  readonly kind = 'local';
  readonly #script: LocalModelProviderOptions['script'];

  constructor(options: LocalModelProviderOptions = {}) {
    this.#script = options.script;
  }

  async complete(request: ProviderRequest): Promise<ProviderResult> {
    const answer = await this.#answer(request);
    if (answer.cut) throw new ProviderError('stream_cut', 'local provider: scripted stream cut');
    return answer.result;
  }

  /** Embeds with `embed-small`; `prompt_tokens` is `countTextTokens` of every input, summed. */
  async embed(request: EmbeddingProviderRequest): Promise<EmbeddingProviderResult> {
    if (request.model !== 'embed-small') {
      throw new ProviderError(
        'model_unavailable',
        `local provider: ${request.model} is not an embedding model`,
      );
    }
    if (request.dimensions !== undefined && request.dimensions !== localEmbeddingDimensions) {
      throw new ProviderError(
        'invalid_request',
        `local provider: embed-small has ${localEmbeddingDimensions} dimensions`,
        {
          status: 400,
        },
      );
    }
    return {
      embeddings: request.input.map((text) => localEmbedding(text)),
      usage: { prompt_tokens: request.input.reduce((sum, text) => sum + countTextTokens(text), 0) },
    };
  }

  async *stream(request: ProviderRequest): AsyncIterable<ProviderStreamChunk> {
    const answer = await this.#answer(request);
    if (answer.cut) {
      for (const piece of wordPieces(cutStreamPrefix)) {
        throwIfAborted(request.signal);
        yield { type: 'delta', content: piece };
      }
      throw new ProviderError('stream_cut', 'local provider: scripted stream cut');
    }
    const { message, finish_reason, usage } = answer.result;
    for (const piece of wordPieces(message.content ?? '')) {
      throwIfAborted(request.signal);
      yield { type: 'delta', content: piece };
    }
    for (const [index, call] of (message.tool_calls ?? []).entries()) {
      throwIfAborted(request.signal);
      yield { type: 'delta', tool_calls: [{ index, id: call.id, name: call.function.name, arguments: '' }] };
      for (const piece of argumentPieces(call.function.arguments)) {
        yield { type: 'delta', tool_calls: [{ index, arguments: piece }] };
      }
    }
    yield { type: 'finish', finish_reason, usage };
  }

  async #answer(request: ProviderRequest): Promise<Answer> {
    if (!isLocalModel(request.model)) {
      throw new ProviderError(
        'model_unavailable',
        `local provider has no model '${request.model}' (models: ${localModelIds.join(', ')})`,
        { status: 404 },
      );
    }
    const turn = this.#script?.(request) ?? defaultTurn(request.model, request);
    throwIfAborted(request.signal);
    if (turn.delay_ms !== undefined && turn.delay_ms > 0) await wait(turn.delay_ms, request.signal);
    if ('error' in turn) {
      if (turn.error === 'stream_cut') return { cut: true };
      throw new ProviderError(turn.error, `local provider: scripted ${turn.error}`, {
        status: statusOfKind[turn.error],
      });
    }
    const { message, finish_reason } = play(turn, assistantTurns(request), request.max_tokens);
    const usage = {
      prompt_tokens: estimatePromptTokens(request.messages, request.tools),
      completion_tokens: countCompletionTokens(message),
    };
    return { cut: false, result: { message, finish_reason, usage } };
  }
}

function isLocalModel(model: string): model is LocalModelId {
  return (localModelIds as readonly string[]).includes(model);
}

function defaultTurn(model: LocalModelId, request: ProviderRequest): LocalTurn {
  if (model === 'echo') {
    const lastUser = request.messages.findLast((message) => message.role === 'user');
    const text = `echo: ${contentText(lastUser?.content)}`;
    return { reply: structuredReply(request) ?? text };
  }
  const turns = embeddedScript(request.messages) ?? [];
  return turns[assistantTurns(request)] ?? { reply: structuredReply(request) ?? 'done' };
}

/**
 * The answer to a request for structured output, when no script gives one: a value generated from
 * the `json_schema` schema, or `{"echo": <last user text>}` for `json_object`.
 */
function structuredReply(request: ProviderRequest): string | undefined {
  const format = request.response_format;
  if (format === undefined || format.type === 'text') return undefined;
  if (format.type === 'json_schema') return JSON.stringify(sampleOfSchema(format.json_schema.schema));
  const lastUser = request.messages.findLast((message) => message.role === 'user');
  return JSON.stringify({ echo: contentText(lastUser?.content) });
}

/** The number of the turn being played: how many assistant messages the conversation already holds. */
function assistantTurns(request: ProviderRequest): number {
  return request.messages.filter((message) => message.role === 'assistant').length;
}

function play(
  turn: Exclude<LocalTurn, { error: unknown }>,
  turnIndex: number,
  maxTokens: number,
): { message: AssistantMessage; finish_reason: FinishReason } {
  if ('fill' in turn) {
    return {
      message: { role: 'assistant', content: Array(maxTokens).fill(fillWord).join(' ') },
      finish_reason: 'length',
    };
  }
  if ('reply' in turn) {
    if (countTextTokens(turn.reply) <= maxTokens)
      return { message: { role: 'assistant', content: turn.reply }, finish_reason: 'stop' };
    return {
      message: { role: 'assistant', content: textWithinTokens(turn.reply, maxTokens) },
      finish_reason: 'length',
    };
  }
  return playToolCalls(turn.tool_calls, turnIndex, maxTokens);
}

/** Scripted tool calls, keeping only those whose tokens fit in `max_tokens`. */
function playToolCalls(
  calls: { name: string; arguments?: Record<string, unknown> | string | undefined }[],
  turnIndex: number,
  maxTokens: number,
): { message: AssistantMessage; finish_reason: FinishReason } {
  const fitted: ToolCall[] = [];
  let tokens = 0;
  for (const [index, call] of calls.entries()) {
    const args = typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments ?? {});
    tokens += toolCallTokens(args);
    if (tokens > maxTokens) break;
    fitted.push({
      id: `call_${turnIndex}_${index}`,
      type: 'function',
      function: { name: call.name, arguments: args },
    });
  }
  const truncated = fitted.length < calls.length;
  if (fitted.length === 0) return { message: { role: 'assistant', content: '' }, finish_reason: 'length' };
  return {
    message: { role: 'assistant', content: null, tool_calls: fitted },
    finish_reason: truncated ? 'length' : 'tool_calls',
  };
}

/** A text cut word by word; the pieces concatenate back to the text. */
function wordPieces(text: string): string[] {
  return text.match(/\s*\S+\s*/g) ?? (text === '' ? [] : [text]);
}

function argumentPieces(args: string): string[] {
  const codePoints = Array.from(args);
  const pieces: string[] = [];
  for (let start = 0; start < codePoints.length; start += argumentsDeltaLength) {
    pieces.push(codePoints.slice(start, start + argumentsDeltaLength).join(''));
  }
  return pieces;
}

function timeoutError(signal: AbortSignal): ProviderError {
  return new ProviderError('timeout', 'local provider: call aborted', { cause: signal.reason });
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw timeoutError(signal);
}

/** Waits `ms`, or rejects with a `timeout` as soon as the signal aborts. */
function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(timeoutError(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
