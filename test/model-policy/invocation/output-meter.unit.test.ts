import { describe, expect, it } from 'vitest';
import { OutputMeter } from '../../../functions/model-policy/invocation/output-meter.ts';

describe('OutputMeter', () => {
  it('counts short words as a token each across pieces', () => {
    const meter = new OutputMeter(100);
    for (const piece of ['a', ' b', 'c d', ' e']) meter.admitContent(piece);
    expect(meter.tokens).toBe(4);
    expect(meter.exhausted).toBe(false);
  });

  it('counts long words by a quarter of their bytes across pieces', () => {
    const meter = new OutputMeter(100);
    for (const piece of ['hel', 'lo wo', 'rld ', ' and', ' more']) meter.admitContent(piece);
    expect(meter.tokens).toBe(Math.ceil(Buffer.byteLength('hello world  and more') / 4));
  });

  it('cuts text before the first word that does not fit', () => {
    const meter = new OutputMeter(3);
    expect(meter.admitContent('one two ')).toBe('one two ');
    expect(meter.admitContent('ten six')).toBe('ten ');
    expect(meter.exhausted).toBe(true);
    expect(meter.tokens).toBe(3);
    expect(meter.admitContent('six')).toBe('');
  });

  it('refuses a tool-call delta that does not fit', () => {
    const meter = new OutputMeter(4);
    expect(meter.admitToolCall(0, '{"a":')).toBe(true);
    expect(meter.tokens).toBe(1 + 2);
    expect(meter.admitToolCall(0, '"bbbbbbbbbb"}')).toBe(false);
    expect(meter.exhausted).toBe(true);
  });

  it('counts text without spaces by its bytes, and cuts it at the limit', () => {
    const meter = new OutputMeter(5);
    const admitted = meter.admitContent('汉'.repeat(750));
    expect(meter.exhausted).toBe(true);
    expect(meter.tokens).toBeLessThanOrEqual(5);
    expect(Buffer.byteLength(admitted)).toBeLessThanOrEqual(5 * 4);
    expect(admitted.length).toBeGreaterThan(0);
  });
});
