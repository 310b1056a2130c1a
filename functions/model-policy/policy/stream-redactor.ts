import type { RedactionKind } from '../schemas/tenant-policy.ts';
import {
  addCounts,
  applyRedactions,
  findSensitiveSpans,
  maxSensitiveSpanLength,
  sensitiveContextLength,
} from './sensitive-text.ts';
import type { RedactionCounts, SensitiveSpan } from './sensitive-text.ts';

/**
 * Where held text may be cut: before `wanted`, but never inside a span nor within the context its
 * detector needs before it (a bearer token is only found after `Bearer `, so emitting that word alone
 * would let the token through unrecognised).
 */
function safeCut(wanted: number, spans: readonly SensitiveSpan[]): number {
  let cut = wanted;
  // Latest first: moving the cut before one span may move it into the context of an earlier one.
  for (let index = spans.length - 1; index >= 0; index -= 1) {
    const span = spans[index]!;
    if (cut > span.start - sensitiveContextLength && cut < span.end) {
      cut = Math.max(0, span.start - sensitiveContextLength);
    }
  }
  return cut;
}

/**
 * Redacts streamed text. It holds back the last {@link maxSensitiveSpanLength} characters, since a
 * match may still grow into them, and never cuts inside a match found in what it holds or in the
 * context just before it, so no part of a sensitive value is ever emitted; the delay is bounded by
 * the hold-back.
 */
export class StreamRedactor {
  readonly counts: RedactionCounts = {};
  readonly #kinds: ReadonlySet<RedactionKind>;
  #pending = '';

  constructor(kinds: ReadonlySet<RedactionKind>) {
    this.#kinds = kinds;
  }

  /** Takes the next piece of text; returns the redacted text that is now safe to emit (maybe ''). */
  push(text: string): string {
    this.#pending += text;
    if (this.#pending.length <= maxSensitiveSpanLength) return '';
    const spans = findSensitiveSpans(this.#pending, this.#kinds);
    const cut = safeCut(this.#pending.length - maxSensitiveSpanLength, spans);
    return this.#emit(
      cut,
      spans.filter((span) => span.end <= cut),
    );
  }

  /** The rest of the text, redacted, at the end of the stream. */
  flush(): string {
    const spans = findSensitiveSpans(this.#pending, this.#kinds);
    return this.#emit(this.#pending.length, spans);
  }

  #emit(cut: number, spans: readonly SensitiveSpan[]): string {
    const { text, counts } = applyRedactions(this.#pending.slice(0, cut), spans);
    addCounts(this.counts, counts);
    this.#pending = this.#pending.slice(cut);
    return text;
  }
}
