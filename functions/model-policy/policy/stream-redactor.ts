import type { RedactionKind } from '../schemas/tenant-policy.ts';
import { addCounts, applyRedactions, findSensitiveSpans, maxSensitiveSpanLength } from './sensitive-text.ts';
import type { RedactionCounts } from './sensitive-text.ts';

/**
 * Redacts streamed text. It holds back the last {@link maxSensitiveSpanLength} characters, since a
 * match may still grow into them, and never cuts inside a match found in what it holds, so no part
 * of a sensitive value is ever emitted; the delay is bounded by the hold-back.
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
    let cut = this.#pending.length - maxSensitiveSpanLength;
    for (const span of spans) {
      if (span.start < cut && cut < span.end) cut = span.start;
    }
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

  #emit(cut: number, spans: ReturnType<typeof findSensitiveSpans>): string {
    const { text, counts } = applyRedactions(this.#pending.slice(0, cut), spans);
    addCounts(this.counts, counts);
    this.#pending = this.#pending.slice(cut);
    return text;
  }
}
