import { describe, expect, it } from 'vitest';
import { redactStructuredText } from '../../../functions/model-policy/policy/structured-redaction.ts';
import { redactionKinds } from '../../../functions/model-policy/schemas/tenant-policy.ts';

const all = new Set(redactionKinds);

describe('redactStructuredText', () => {
  it('redacts the strings of a JSON document and keeps it valid JSON', () => {
    const args = JSON.stringify({ to: 'jane@example.com', note: 'line one\nBearer abcdefgh12345678' });
    const result = redactStructuredText(args, all);
    expect(JSON.parse(result.text)).toEqual({
      to: '[REDACTED:email]',
      note: 'line one\nBearer [REDACTED:bearer_token]',
    });
    expect(result.counts).toEqual({ email: 1, bearer_token: 1 });
  });

  it('turns a number that is a card into a string marker', () => {
    const result = redactStructuredText('{"card":4111111111111111,"qty":[2,3.5e2]}', all);
    expect(result.text).toBe('{"card":"[REDACTED:payment_card]","qty":[2,3.5e2]}');
    expect(result.counts).toEqual({ payment_card: 1 });
  });

  it('redacts inside escaped strings without breaking their escapes', () => {
    const text = '["\\njane@example.com\\t","\\u0041KIAIOSFODNN7EXAMPLE"]';
    const result = redactStructuredText(text, all);
    expect(JSON.parse(result.text)).toEqual(['\n[REDACTED:email]\t', '[REDACTED:aws_access_key]']);
  });

  it('leaves a document with nothing sensitive byte for byte as it was', () => {
    const text = '{ "at_ms": 1718361234567, "big": 12345678901234567890, "name": "caf\\u00e9" }';
    expect(redactStructuredText(text, all)).toEqual({ text, counts: {} });
  });

  it('redacts text that is not a JSON object or array as plain text', () => {
    expect(redactStructuredText('4111111111111111', all).text).toBe('[REDACTED:payment_card]');
    expect(redactStructuredText('{"to": jane@example.com', all).text).toBe('{"to": [REDACTED:email]');
  });
});
