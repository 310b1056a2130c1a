import { describe, expect, it } from 'vitest';
import { sseData } from '../../../functions/model-policy/providers/sse-data.ts';

async function payloads(...parts: string[]): Promise<string[]> {
  const body = (async function* () {
    for (const part of parts) yield new TextEncoder().encode(part);
  })();
  const out: string[] = [];
  for await (const data of sseData(body)) out.push(data);
  return out;
}

describe('sseData', () => {
  it('returns one payload per event across arbitrary chunk boundaries, CRLF and multi-line data', async () => {
    expect(
      await payloads(
        ': keep-alive\n\nda',
        'ta: {"a":1}\r',
        '\n\r\nevent: x\ndata: line one\ndata:line two\n\n',
      ),
    ).toEqual(['{"a":1}', 'line one\nline two']);
  });

  it('keeps a final complete event without its blank line and drops a half-received line', async () => {
    expect(await payloads('data: [DONE]\n')).toEqual(['[DONE]']);
    expect(await payloads('data: {"a":1}\n\ndata: {"trunc')).toEqual(['{"a":1}']);
  });

  it('decodes multi-byte characters split between chunks', async () => {
    const bytes = new TextEncoder().encode('data: é\n\n');
    const body = (async function* () {
      yield bytes.slice(0, 7);
      yield bytes.slice(7);
    })();
    const out: string[] = [];
    for await (const data of sseData(body)) out.push(data);
    expect(out).toEqual(['é']);
  });
});
