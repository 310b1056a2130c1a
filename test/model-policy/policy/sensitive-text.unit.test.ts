import { describe, expect, it } from 'vitest';
import { redactText } from '../../../functions/model-policy/policy/sensitive-text.ts';
import { redactionKinds } from '../../../functions/model-policy/schemas/tenant-policy.ts';

const all = new Set(redactionKinds);

describe('redactText', () => {
  it.each([
    ['write to jane.doe+news@example.co.uk today', 'write to [REDACTED:email] today', 'email'],
    ['call +1 (415) 555-2671 now', 'call [REDACTED:phone] now', 'phone'],
    ['call 415-555-2671 now', 'call [REDACTED:phone] now', 'phone'],
    ['dial +442079460958', 'dial [REDACTED:phone]', 'phone'],
    ['card 4111 1111 1111 1111 exp 12/29', 'card [REDACTED:payment_card] exp 12/29', 'payment_card'],
    ['card 4111-1111-1111-1111', 'card [REDACTED:payment_card]', 'payment_card'],
    ['card 378282246310005', 'card [REDACTED:payment_card]', 'payment_card'],
    ['mastercard 2221000000000009', 'mastercard [REDACTED:payment_card]', 'payment_card'],
    ['discover 6011111111111117', 'discover [REDACTED:payment_card]', 'payment_card'],
    ['jcb 3530111333300000', 'jcb [REDACTED:payment_card]', 'payment_card'],
    ['diners 30569309025904', 'diners [REDACTED:payment_card]', 'payment_card'],
    ['key sk-proj-abcdefghijklmnopqrstuvwxyz012345', 'key [REDACTED:openai_key]', 'openai_key'],
    ['id AKIAIOSFODNN7EXAMPLE here', 'id [REDACTED:aws_access_key] here', 'aws_access_key'],
    ['temp ASIAY34FZKBOKMUTVV7A', 'temp [REDACTED:aws_access_key]', 'aws_access_key'],
    [
      'secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY end',
      'secret [REDACTED:aws_secret_key] end',
      'aws_secret_key',
    ],
    ['token ghp_0123456789abcdefghijklmnopqrstuvwxyzAB', 'token [REDACTED:github_token]', 'github_token'],
    ['slack xoxb-123456789012-abcdefABCDEF', 'slack [REDACTED:slack_token]', 'slack_token'],
    [
      'Authorization: Bearer abc.def-ghi_jkl~mno',
      'Authorization: Bearer [REDACTED:bearer_token]',
      'bearer_token',
    ],
  ])('redacts %s', (text, expected, kind) => {
    const result = redactText(text, all);
    expect(result.text).toBe(expected);
    expect(result.counts).toEqual({ [kind]: 1 });
  });

  it.each([
    ['a 16-digit number that fails the Luhn check', 'order 4111 1111 1111 1112 shipped'],
    ['the same number without separators', 'order 4111111111111112 shipped'],
    ['an IPv4 address', 'host 192.168.100.200 is up'],
    ['a date and a time', 'on 2025-06-14 at 10:30'],
    ['a git commit hash', 'commit 3f786850e387550fdab836ed7e6dc881de23001b'],
    ['a short number', 'room 555-1234'],
    ['a Luhn-valid number no card scheme issues', 'ticket 1234567812345670 closed'],
  ])('leaves %s alone', (_what, text) => {
    expect(redactText(text, all)).toEqual({ text, counts: {} });
  });

  it('counts several findings of several kinds', () => {
    const result = redactText('a@b.io, c@d.io, call 415-555-2671, card 5555555555554444', all);
    expect(result.counts).toEqual({ email: 2, phone: 1, payment_card: 1 });
    expect(result.text).not.toMatch(/@|2671|4444/);
  });

  it('redacts only the kinds it is given', () => {
    const result = redactText('a@b.io and 415-555-2671', new Set(['phone'] as const));
    expect(result.text).toBe('a@b.io and [REDACTED:phone]');
  });

  it('keeps JSON arguments valid JSON', () => {
    const args = JSON.stringify({ to: 'x@y.org', note: 'Bearer abcdefgh12345678' });
    const redacted = redactText(args, all).text;
    expect(JSON.parse(redacted)).toEqual({ to: '[REDACTED:email]', note: 'Bearer [REDACTED:bearer_token]' });
  });

  it('leaves millisecond timestamps alone, though a tenth of them pass the Luhn check', () => {
    const stamps = Array.from({ length: 100 }, (_, index) => `{"at_ms":${1718361234567 + index}}`);
    for (const text of stamps) expect(redactText(text, all)).toEqual({ text, counts: {} });
  });
});
