import { describe, expect, it } from 'vitest';
import {
  findSensitiveSpans,
  maxSensitiveSpanLength,
  redactText,
} from '../../../functions/model-policy/policy/sensitive-text.ts';
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

  it.each([1, 4, 16])('never emits a bearer token followed by long text, in pieces of %i', (pieceLength) => {
    const secret = 'tok_live_abcdefghijklmnopq';
    const sent = streamed(`Authorization: Bearer ${secret} ${filler}`, pieceLength);
    expect(sent).not.toContain('tok_live');
    expect(sent).toContain('Bearer [REDACTED:bearer_token]');
  });

  it('never emits part of the longest e-mail address it redacts', () => {
    const label = 'b'.repeat(63);
    const address = `${'j'.repeat(64)}@${label}.${label}.${label}.${label}.${'c'.repeat(24)}`;
    expect(findSensitiveSpans(address, all)).toEqual([{ start: 0, end: address.length, kind: 'email' }]);
    expect(address.length).toBeLessThanOrEqual(maxSensitiveSpanLength);
    const redactor = new StreamRedactor(all);
    let emitted = '';
    for (const char of `${filler}${address} ${filler}`) emitted += redactor.push(char);
    expect(emitted).not.toContain('jjj');
    expect(emitted + redactor.flush()).toBe(`${filler}[REDACTED:email] ${filler}`);
  });
});
