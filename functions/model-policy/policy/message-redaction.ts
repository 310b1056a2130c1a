import type { AssistantMessage, ChatMessage, ContentPart } from '../../shared/contracts/chat.ts';
import type { RedactionKind } from '../schemas/tenant-policy.ts';
import { addCounts, redactText } from './sensitive-text.ts';
import type { RedactionCounts } from './sensitive-text.ts';
import { redactStructuredText } from './structured-redaction.ts';

type Content = string | ContentPart[];

type TextPart = Extract<ContentPart, { type: 'text' }>;

type TextRedaction = typeof redactText;

function redactContent(
  content: Content,
  kinds: ReadonlySet<RedactionKind>,
  counts: RedactionCounts,
  redact: TextRedaction,
): Content {
  if (typeof content === 'string') {
    const redacted = redact(content, kinds);
    addCounts(counts, redacted.counts);
    return redacted.text;
  }
  return content.map((part) => {
    // Images are passed as they are: the gateway reads no text in them.
    if (part.type !== 'text') return part;
    const redacted = redact(part.text, kinds);
    addCounts(counts, redacted.counts);
    return { ...part, text: redacted.text };
  });
}

/**
 * An assistant message with sensitive text redacted in its content and tool-call arguments;
 * arguments that are JSON stay valid JSON (see `structured-redaction.ts`).
 */
export function redactAssistantMessage(
  message: AssistantMessage,
  kinds: ReadonlySet<RedactionKind>,
  counts: RedactionCounts,
): AssistantMessage {
  const content =
    message.content === null ? null : (redactContent(message.content, kinds, counts, redactText) as string);
  if (message.tool_calls === undefined) return { ...message, content };
  return {
    ...message,
    content,
    tool_calls: message.tool_calls.map((call) => {
      const redacted = redactStructuredText(call.function.arguments, kinds);
      addCounts(counts, redacted.counts);
      return { ...call, function: { ...call.function, arguments: redacted.text } };
    }),
  };
}

/**
 * Messages with sensitive text redacted wherever a model would read it, and the counts per kind.
 * Tool results are often JSON, and stay valid JSON.
 */
export function redactMessages(
  messages: readonly ChatMessage[],
  kinds: ReadonlySet<RedactionKind>,
): { messages: ChatMessage[]; counts: RedactionCounts } {
  const counts: RedactionCounts = {};
  const redacted = messages.map((message): ChatMessage => {
    if (message.role === 'assistant') return redactAssistantMessage(message, kinds, counts);
    if (message.role === 'user') {
      return { ...message, content: redactContent(message.content, kinds, counts, redactText) };
    }
    const redact = message.role === 'tool' ? redactStructuredText : redactText;
    // System, developer and tool messages hold text parts only, so their content stays text.
    const content = redactContent(message.content, kinds, counts, redact) as string | TextPart[];
    return { ...message, content };
  });
  return { messages: redacted, counts };
}
