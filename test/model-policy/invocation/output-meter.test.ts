import { describe, expect, it } from 'vitest';
import { OutputMeter } from '../../../functions/model-policy/invocation/output-meter.ts';

describe('OutputMeter', () => {
  it('counts words across pieces', () => {
    const meter = new OutputMeter(100);
    for (const piece of ['hel', 'lo wo', 'rld ', ' and', ' more']) meter.admitContent(piece);
    expect(meter.tokens).toBe(4);
    expect(meter.exhausted).toBe(false);
  });

  it('cuts text before the first word that does not fit', () => {
    const meter = new OutputMeter(3);
    expect(meter.admitContent('one two ')).toBe('one two ');
    expect(meter.admitContent('three four five')).toBe('three ');
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
});
