import type { AssistantMessage, ChatMessage } from '../../shared/contracts/chat.ts';
import type { RedactionKind } from '../schemas/tenant-policy.ts';
import { addCounts, redactText } from './sensitive-text.ts';
import type { RedactionCounts } from './sensitive-text.ts';

type Content = string | { type: 'text'; text: string }[];

function redactContent(
  content: Content,
  kinds: ReadonlySet<RedactionKind>,
  counts: RedactionCounts,
): Content {
  if (typeof content === 'string') {
    const redacted = redactText(content, kinds);
    addCounts(counts, redacted.counts);
    return redacted.text;
  }
  return content.map((part) => {
    const redacted = redactText(part.text, kinds);
    addCounts(counts, redacted.counts);
    return { ...part, text: redacted.text };
  });
}

/**
 * An assistant message with sensitive text redacted in its content and tool-call arguments. Markers
 * contain no quotes or backslashes, so JSON arguments stay JSON.
 */
export function redactAssistantMessage(
  message: AssistantMessage,
  kinds: ReadonlySet<RedactionKind>,
  counts: RedactionCounts,
): AssistantMessage {
  const content = message.content === null ? null : (redactContent(message.content, kinds, counts) as string);
  if (message.tool_calls === undefined) return { ...message, content };
  return {
    ...message,
    content,
    tool_calls: message.tool_calls.map((call) => {
      const redacted = redactText(call.function.arguments, kinds);
      addCounts(counts, redacted.counts);
      return { ...call, function: { ...call.function, arguments: redacted.text } };
    }),
  };
}

/** Messages with sensitive text redacted wherever a model would read it, and the counts per kind. */
export function redactMessages(
  messages: readonly ChatMessage[],
  kinds: ReadonlySet<RedactionKind>,
): { messages: ChatMessage[]; counts: RedactionCounts } {
  const counts: RedactionCounts = {};
  const redacted = messages.map((message): ChatMessage => {
    switch (message.role) {
      case 'assistant':
        return redactAssistantMessage(message, kinds, counts);
      case 'system':
      case 'developer':
        return { ...message, content: redactContent(message.content, kinds, counts) };
      case 'user':
        return { ...message, content: redactContent(message.content, kinds, counts) };
      case 'tool':
        return { ...message, content: redactContent(message.content, kinds, counts) };
    }
  });
  return { messages: redacted, counts };
}
