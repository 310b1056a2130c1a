import { describe, expect, it } from 'vitest';
import { redactText } from '../../../functions/model-policy/policy/sensitive-text.ts';
import { StreamRedactor } from '../../../functions/model-policy/policy/stream-redactor.ts';
import { redactionKinds } from '../../../functions/model-policy/schemas/tenant-policy.ts';

const all = new Set(redactionKinds);

function streamed(text: string, pieceLength: number): string {
  const redactor = new StreamRedactor(all);
  let out = '';
  for (let start = 0; start < text.length; start += pieceLength) {
    out += redactor.push(text.slice(start, start + pieceLength));
  }
  return out + redactor.flush();
}

const filler = 'lorem ipsum dolor sit amet '.repeat(20);
const text = `${filler}mail jane@example.com or call +1 415 555 2671, key AKIAIOSFODNN7EXAMPLE. ${filler}card 4111 1111 1111 1111 ${filler}`;

describe('StreamRedactor', () => {
  it.each([1, 3, 7, 64, 1000])('emits what whole-text redaction gives, in pieces of %i', (pieceLength) => {
    expect(streamed(text, pieceLength)).toBe(redactText(text, all).text);
  });

  it('never emits a sensitive value, even in part, before the stream ends', () => {
    const redactor = new StreamRedactor(all);
    let emitted = '';
    for (const char of `${filler}jane@example.com ${filler}`) emitted += redactor.push(char);
    expect(emitted).not.toContain('jane@');
    expect(emitted + redactor.flush()).toContain('[REDACTED:email]');
    expect(redactor.counts).toEqual({ email: 1 });
  });
});
