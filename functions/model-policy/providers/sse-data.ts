/**
 * The `data` payloads of a Server-Sent Events body, one per event, in order (WHATWG SSE parsing: lines
 * `data:` accumulate, a blank line dispatches, comments and other fields are ignored). A trailing
 * event without its blank line is still dispatched when its lines are complete; a half-received line
 * is dropped, so a cut stream never yields a truncated payload.
 */
export async function* sseData(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];
  for await (const bytes of body) {
    buffer += decoder.decode(bytes, { stream: true });
    let newline = buffer.indexOf('\n');
    while (newline >= 0) {
      const line = buffer.slice(0, buffer[newline - 1] === '\r' ? newline - 1 : newline);
      buffer = buffer.slice(newline + 1);
      if (line === '') {
        if (data.length > 0) yield data.join('\n');
        data = [];
      } else if (line.startsWith('data:')) {
        data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
      }
      newline = buffer.indexOf('\n');
    }
  }
  if (data.length > 0) yield data.join('\n');
}
