import { contentText, imageParts } from '../../shared/contracts/chat.ts';
import type { AssistantMessage, ChatMessage, ToolDefinition } from '../../shared/contracts/chat.ts';

/**
 * The token metering convention of the local provider and of worst-case budget reservation.
 *
 * Real backends tokenize with byte-level BPE, where every token covers at least one UTF-8 byte, so the
 * byte length of a text bounds its token count from above. Counting bytes is deterministic, needs no
 * tokenizer tables, and never under-reserves a budget.
 */

/** Chat-template overhead per message (role markers and separators) of common chat formats. */
const perMessageOverhead = 4;

const utf8 = new TextEncoder();

function byteLength(text: string): number {
  return utf8.encode(text).length;
}

/**
 * A deterministic upper bound of the prompt tokens a byte-level BPE tokenizer produces for these
 * messages and tools: the UTF-8 bytes of every message's text content, name, tool-call names and
 * arguments and `tool_call_id`, plus 4 per message, plus the UTF-8 bytes of `JSON.stringify(tools)`.
 *
 * The local provider reports exactly this as `prompt_tokens`, so tests can predict its cost.
 */
/**
 * Prompt tokens counted per image, whatever its size: above what OpenAI (≈1,100 at high detail) and
 * Claude (≈1,600 for a 1.15-megapixel image) charge, so a reservation holds the image.
 */
export const tokensPerImage = 1_600;

export function estimatePromptTokens(
  messages: readonly ChatMessage[],
  tools?: readonly ToolDefinition[],
): number {
  let total = 0;
  for (const message of messages) {
    total += perMessageOverhead + byteLength(contentText(message.content));
    total += imageParts(message.content).length * tokensPerImage;
    if ('name' in message && message.name !== undefined) total += byteLength(message.name);
    if (message.role === 'assistant') {
      for (const call of message.tool_calls ?? []) {
        total += byteLength(call.function.name) + byteLength(call.function.arguments);
      }
    }
    if (message.role === 'tool') total += byteLength(message.tool_call_id);
  }
  if (tools !== undefined && tools.length > 0) total += byteLength(JSON.stringify(tools));
  return total;
}

/** UTF-8 bytes a token covers at most, by the metering convention. */
const bytesPerToken = 4;

/**
 * Counts the tokens of a text as it grows, by the metering convention: a whitespace-separated word is
 * at least one token, and so is every {@link bytesPerToken} UTF-8 bytes, so text without spaces
 * (Chinese, Japanese, base64, minified code) is never counted as one word.
 */
export class TextTokenCounter {
  #words = 0;
  #bytes = 0;
  #inWord = false;

  /** Tokens counted so far: max(words, ceil(bytes / 4)). */
  get tokens(): number {
    return Math.max(this.#words, Math.ceil(this.#bytes / bytesPerToken));
  }

  /** Counts as much of `text` as keeps the total within `limit` tokens; returns the part counted. */
  addWithin(text: string, limit: number): string {
    let used = 0;
    for (const char of text) {
      const space = /\s/.test(char);
      const words = this.#words + (!space && !this.#inWord ? 1 : 0);
      const bytes = this.#bytes + byteLength(char);
      if (Math.max(words, Math.ceil(bytes / bytesPerToken)) > limit) return text.slice(0, used);
      this.#words = words;
      this.#bytes = bytes;
      this.#inWord = !space;
      used += char.length;
    }
    return text;
  }
}

/** The tokens of a text by the metering convention (see {@link TextTokenCounter}). */
export function countTextTokens(text: string): number {
  const counter = new TextTokenCounter();
  counter.addWithin(text, Number.POSITIVE_INFINITY);
  return counter.tokens;
}

/** The longest start of `text` whose tokens fit in `limit`, without trailing whitespace. */
export function textWithinTokens(text: string, limit: number): string {
  return new TextTokenCounter().addWithin(text, limit).trimEnd();
}

/**
 * The completion tokens the local provider meters for an answer: the tokens of its content (see
 * {@link TextTokenCounter}), plus, for each tool call, 1 (the name) + ceil(UTF-8 bytes of the
 * arguments / 4).
 *
 * The local provider never produces more than `max_tokens` of these, so reserving `max_tokens`
 * output tokens always covers it, and the gateway's stream meter counts the same way.
 */
export function countCompletionTokens(message: AssistantMessage): number {
  let total = countTextTokens(message.content ?? '');
  for (const call of message.tool_calls ?? []) total += toolCallTokens(call.function.arguments);
  return total;
}

/** Completion tokens of one tool call whose arguments are this JSON text. */
export function toolCallTokens(argumentsJson: string): number {
  return 1 + Math.ceil(byteLength(argumentsJson) / bytesPerToken);
}
