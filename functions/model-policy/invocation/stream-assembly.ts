import type { AssistantMessage, ToolCall } from '../../shared/contracts/chat.ts';
import { ProviderError } from '../ports/model-provider-port.ts';
import type { ProviderResult, ProviderStreamChunk } from '../ports/model-provider-port.ts';

/** A tool-call delta in the indexed convention of OpenAI streams and the provider port. */
export type ToolCallDelta = { index: number; id?: string; name?: string; arguments?: string };

/**
 * The assistant message a stream is building: content text appended as it comes, indexed tool-call
 * deltas joined per index (id and name from the first delta that has them, arguments concatenated).
 */
export class StreamedMessage {
  #text = '';
  #sawContent = false;
  readonly #calls = new Map<number, { id: string; name: string; arguments: string }>();

  /** Records that the stream produced content, even if none of it may be shown yet. */
  markContent(): void {
    this.#sawContent = true;
  }

  appendText(text: string): void {
    this.#text += text;
  }

  addToolCallDelta(delta: ToolCallDelta): void {
    const call = this.#calls.get(delta.index) ?? { id: '', name: '', arguments: '' };
    if (call.id === '' && delta.id !== undefined) call.id = delta.id;
    if (call.name === '' && delta.name !== undefined) call.name = delta.name;
    call.arguments += delta.arguments ?? '';
    this.#calls.set(delta.index, call);
  }

  /** Replaces a tool call's arguments (output redaction releases them whole at the end). */
  setToolCallArguments(index: number, text: string): void {
    const call = this.#calls.get(index);
    if (call !== undefined) call.arguments = text;
  }

  /** The tool calls so far, by index. */
  toolCalls(): (ToolCallDelta & { id: string; name: string; arguments: string })[] {
    return [...this.#calls.entries()].sort(([a], [b]) => a - b).map(([index, call]) => ({ index, ...call }));
  }

  /** The message as it stands; content is null for a pure tool-call answer, as in OpenAI's shape. */
  message(): AssistantMessage {
    const toolCalls: ToolCall[] = this.toolCalls().map((call) => ({
      id: call.id,
      type: 'function',
      function: { name: call.name, arguments: call.arguments },
    }));
    return {
      role: 'assistant',
      content: this.#sawContent || toolCalls.length === 0 ? this.#text : null,
      ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
    };
  }
}

/**
 * Assembles a provider stream into the completion it streamed, with finish reason and usage from the
 * finish chunk.
 *
 * @throws ProviderError `stream_cut` when the stream ends without a finish chunk; whatever the stream throws.
 */
export async function collectStream(stream: AsyncIterable<ProviderStreamChunk>): Promise<ProviderResult> {
  const message = new StreamedMessage();
  for await (const chunk of stream) {
    if (chunk.type === 'finish') {
      return { message: message.message(), finish_reason: chunk.finish_reason, usage: chunk.usage };
    }
    if (chunk.content !== undefined && chunk.content !== '') {
      message.markContent();
      message.appendText(chunk.content);
    }
    for (const delta of chunk.tool_calls ?? []) message.addToolCallDelta(delta);
  }
  throw new ProviderError('stream_cut', 'the stream ended before it finished');
}
