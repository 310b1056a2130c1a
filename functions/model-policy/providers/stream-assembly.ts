import type { AssistantMessage, ToolCall } from '../../shared/contracts/chat.ts';
import { ProviderError } from './model-provider.ts';
import type { ProviderResult, ProviderStreamChunk } from './model-provider.ts';

/**
 * Assembles a provider stream into the completion it streamed: content deltas concatenated, indexed
 * tool-call deltas joined per index (id and name from the first delta that has them, arguments
 * concatenated), finish reason and usage from the finish chunk.
 *
 * @throws ProviderError `stream_cut` when the stream ends without a finish chunk; whatever the stream throws.
 */
export async function collectStream(stream: AsyncIterable<ProviderStreamChunk>): Promise<ProviderResult> {
  let content = '';
  let sawContent = false;
  const calls = new Map<number, { id: string; name: string; arguments: string }>();
  for await (const chunk of stream) {
    if (chunk.type === 'finish') {
      const toolCalls: ToolCall[] = [...calls.entries()]
        .sort(([a], [b]) => a - b)
        .map(([, call]) => ({
          id: call.id,
          type: 'function',
          function: { name: call.name, arguments: call.arguments },
        }));
      const message: AssistantMessage = {
        role: 'assistant',
        content: sawContent || toolCalls.length === 0 ? content : null,
        ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
      };
      return { message, finish_reason: chunk.finish_reason, usage: chunk.usage };
    }
    if (chunk.content !== undefined && chunk.content !== '') {
      content += chunk.content;
      sawContent = true;
    }
    for (const delta of chunk.tool_calls ?? []) {
      const call = calls.get(delta.index) ?? { id: '', name: '', arguments: '' };
      if (call.id === '' && delta.id !== undefined) call.id = delta.id;
      if (call.name === '' && delta.name !== undefined) call.name = delta.name;
      call.arguments += delta.arguments ?? '';
      calls.set(delta.index, call);
    }
  }
  throw new ProviderError('stream_cut', 'the stream ended before it finished');
}
