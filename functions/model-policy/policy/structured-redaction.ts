import type { RedactionKind } from '../schemas/tenant-policy.ts';
import { addCounts, applyRedactions, findSensitiveSpans, redactText } from './sensitive-text.ts';
import type { RedactionCounts } from './sensitive-text.ts';

/**
 * Redaction of text that may be a JSON document (tool-call arguments, tool results): the result must
 * stay valid JSON, or the backend refuses the call (Bedrock parses arguments into objects) and tools
 * receive arguments they cannot read.
 */

type Redacted = { text: string; counts: RedactionCounts };

const numberToken = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** The end (exclusive) of the JSON string token opening at `start`. */
function stringTokenEnd(text: string, start: number): number {
  let index = start + 1;
  while (index < text.length && text[index] !== '"') index += text[index] === '\\' ? 2 : 1;
  return index + 1;
}

function isJsonDocument(text: string): boolean {
  const first = text.trimStart()[0];
  if (first !== '{' && first !== '[') return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Redacts a valid JSON document token by token: each string is decoded, redacted and re-encoded, and
 * a number holding a sensitive value (a card number sent as a number) becomes a string marker.
 * Tokens without findings are left as they were, so a clean document comes back byte for byte.
 */
function redactJsonDocument(text: string, kinds: ReadonlySet<RedactionKind>): Redacted {
  const counts: RedactionCounts = {};
  let result = '';
  let position = 0;
  let index = 0;
  while (index < text.length) {
    const char = text[index]!;
    let end = index + 1;
    let replacement: string | undefined;
    if (char === '"') {
      end = stringTokenEnd(text, index);
      const redacted = redactText(JSON.parse(text.slice(index, end)) as string, kinds);
      if (Object.keys(redacted.counts).length > 0) {
        replacement = JSON.stringify(redacted.text);
        addCounts(counts, redacted.counts);
      }
    } else if (char === '-' || (char >= '0' && char <= '9')) {
      numberToken.lastIndex = index;
      const token = numberToken.exec(text)?.[0] ?? char;
      end = index + token.length;
      const spans = findSensitiveSpans(token, kinds);
      if (spans.length > 0) {
        const redacted = applyRedactions(token, spans);
        replacement = JSON.stringify(redacted.text);
        addCounts(counts, redacted.counts);
      }
    }
    if (replacement !== undefined) {
      result += text.slice(position, index) + replacement;
      position = end;
    }
    index = end;
  }
  return { text: result + text.slice(position), counts };
}

/**
 * `text` with every sensitive span of the given kinds replaced by a marker, and the counts. A JSON
 * object or array stays valid JSON (see {@link redactJsonDocument}); any other text is redacted as
 * plain text.
 */
export function redactStructuredText(text: string, kinds: ReadonlySet<RedactionKind>): Redacted {
  return isJsonDocument(text) ? redactJsonDocument(text, kinds) : redactText(text, kinds);
}
