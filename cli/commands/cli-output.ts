/**
 * Where a command's output goes. By default everything is for a person, on standard output. With
 * `--json` the result is one JSON document on standard output (for scripts and pipes) and every
 * progress or human-readable line moves to standard error, so the two never mix.
 */
let jsonMode = false;

/** Switches this process to `--json` output. */
export function useJsonOutput(): void {
  jsonMode = true;
}

/** Whether this process prints machine output (`--json`). */
export function isJsonOutput(): boolean {
  return jsonMode;
}

/** Where progress and human-readable results go: standard output, or standard error under `--json`. */
export function humanOutput(): NodeJS.WritableStream {
  return jsonMode ? process.stderr : process.stdout;
}

/** Prints a command's result as one line of JSON on standard output under `--json`; nothing otherwise. */
export function emitJson(value: unknown): void {
  if (jsonMode) process.stdout.write(`${JSON.stringify(value)}\n`);
}
