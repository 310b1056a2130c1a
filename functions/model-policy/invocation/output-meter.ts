/**
 * Counts a stream's output tokens as it arrives, by the metering convention of `token-estimate.ts`
 * (a word of content is at least one token; a tool call is 1 + ceil(argument bytes / 4)), and stops
 * it at the reservation: text is cut before the word that would not fit, and a tool-call delta that
 * would not fit is refused whole, since half of its arguments is of no use.
 */
export class OutputMeter {
  readonly #limit: number;
  #words = 0;
  #inWord = false;
  #toolTokens = 0;
  readonly #argumentBytes = new Map<number, number>();
  #exhausted = false;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Output tokens counted so far. */
  get tokens(): number {
    return this.#words + this.#toolTokens;
  }

  /** True once the stream reached the reservation. */
  get exhausted(): boolean {
    return this.#exhausted;
  }

  /** The part of `text` that fits; sets `exhausted` when something had to be cut. */
  admitContent(text: string): string {
    if (this.#exhausted) return '';
    for (let index = 0; index < text.length; index += 1) {
      const space = /\s/.test(text[index]!);
      if (!space && !this.#inWord) {
        if (this.tokens + 1 > this.#limit) {
          this.#exhausted = true;
          return text.slice(0, index);
        }
        this.#words += 1;
      }
      this.#inWord = !space;
    }
    return text;
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
