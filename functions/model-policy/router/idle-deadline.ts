/**
 * An abort signal that fires when `timeoutMs` pass without a `touch()`, or when the parent aborts:
 * the per-backend timeout of a stream bounds each wait for the next chunk, not the whole stream.
 */
export class IdleDeadline {
  readonly #controller = new AbortController();
  readonly #timeoutMs: number;
  readonly #parent: AbortSignal;
  readonly #onParentAbort: () => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number, parent: AbortSignal) {
    this.#timeoutMs = timeoutMs;
    this.#parent = parent;
    this.#onParentAbort = () => this.abort(parent.reason);
    if (parent.aborted) this.abort(parent.reason);
    else parent.addEventListener('abort', this.#onParentAbort, { once: true });
    this.touch();
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Restarts the idle timer. */
  touch(): void {
    if (this.#controller.signal.aborted) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(
      () => this.abort(new DOMException('The backend went quiet for too long', 'TimeoutError')),
      this.#timeoutMs,
    );
  }

  abort(reason?: unknown): void {
    this.dispose();
    this.#controller.abort(reason);
  }

  /** Stops the timer and detaches from the parent. */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#parent.removeEventListener('abort', this.#onParentAbort);
  }
}
