import { TextTokenCounter } from '../metering/token-estimate.ts';

/**
 * Counts a stream's output tokens as it arrives, by the metering convention of `token-estimate.ts`
 * (text: max(words, ceil(UTF-8 bytes / 4)); a tool call: 1 + ceil(argument bytes / 4)), and stops
 * it at the reservation: text is cut where the next character would not fit, and a tool-call delta
 * that would not fit is refused whole, since half of its arguments is of no use.
 */
export class OutputMeter {
  readonly #limit: number;
  readonly #text = new TextTokenCounter();
  #toolTokens = 0;
  readonly #argumentBytes = new Map<number, number>();
  #exhausted = false;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Output tokens counted so far. */
  get tokens(): number {
    return this.#text.tokens + this.#toolTokens;
  }

  /** True once the stream reached the reservation. */
  get exhausted(): boolean {
    return this.#exhausted;
  }

  /** The part of `text` that fits; sets `exhausted` when something had to be cut. */
  admitContent(text: string): string {
    if (this.#exhausted) return '';
    const admitted = this.#text.addWithin(text, this.#limit - this.#toolTokens);
    if (admitted.length < text.length) this.#exhausted = true;
    return admitted;
  }

  /** Whether a tool-call delta fits; when it does not, the stream is exhausted. */
  admitToolCall(index: number, argumentsText: string): boolean {
    if (this.#exhausted) return false;
    const before = this.#argumentBytes.get(index);
    const after = (before ?? 0) + Buffer.byteLength(argumentsText);
    const added = 1 + Math.ceil(after / 4) - (before === undefined ? 0 : 1 + Math.ceil(before / 4));
    if (this.tokens + added > this.#limit) {
      this.#exhausted = true;
      return false;
    }
    this.#argumentBytes.set(index, after);
    this.#toolTokens += added;
    return true;
  }
}
