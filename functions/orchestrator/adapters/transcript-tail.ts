import type { ChatMessage } from '../../shared/contracts/chat.ts';
import { messageBytes } from '../ports/run-state-port.ts';

/**
 * The newest whole messages of a transcript whose sizes (as `transcript_bytes` counts them) add up to
 * at most `maxBytes`, in order. A tail never starts with a tool result: one whose assistant call was
 * cut off would be an orphan the model cannot place, so leading tool results are left out too.
 */
export function transcriptTail(messages: readonly ChatMessage[], maxBytes: number): ChatMessage[] {
  let start = messages.length;
  let bytes = 0;
  while (start > 0) {
    const size = messageBytes(messages[start - 1]!);
    if (bytes + size > maxBytes) break;
    bytes += size;
    start -= 1;
  }
  while (start < messages.length && messages[start]!.role === 'tool') start += 1;
  return messages.slice(start);
}
