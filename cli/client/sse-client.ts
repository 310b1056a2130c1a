/** One parsed server-sent event, or a comment line. */
export type SseFrame =
  | { kind: 'event'; id: string | undefined; event: string; data: string }
  | { kind: 'comment'; text: string }
  | { kind: 'retry'; ms: number };

/**
 * Parses a text/event-stream body incrementally (WHATWG HTML §9.2.6): fields per line, events
 * dispatched on a blank line, comments kept so callers can see keep-alives.
 */
export async function* parseSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseFrame> {
  const decoder = new TextDecoder();
  let buffer = '';
  let id: string | undefined;
  let event = '';
  let data: string[] = [];
  const reader = body.getReader();
  let failure: unknown;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let newline = buffer.search(/\r\n|\r|\n/);
      while (newline !== -1) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
        newline = buffer.search(/\r\n|\r|\n/);
        if (line === '') {
          if (data.length > 0)
            yield { kind: 'event', id, event: event === '' ? 'message' : event, data: data.join('\n') };
          event = '';
          data = [];
          continue;
        }
        if (line.startsWith(':')) {
          yield { kind: 'comment', text: line.slice(1).trim() };
          continue;
        }
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') id = value;
        else if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
        else if (field === 'retry' && /^\d+$/.test(value)) yield { kind: 'retry', ms: Number(value) };
      }
    }
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    reader.releaseLock();
    // Cancelling a stream that failed rejects with the error already thrown above, and one the
    // caller aborted rejects with that abort: neither is news to the caller.
    await body.cancel().catch((error: unknown) => {
      const aborted = error instanceof Error && error.name === 'AbortError';
      if (failure === undefined && !aborted) throw error;
    });
  }
}
