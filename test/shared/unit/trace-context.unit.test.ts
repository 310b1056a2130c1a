import { describe, expect, it } from 'vitest';
import {
  continueTrace,
  outgoingTraceparent,
  parseTraceparent,
  runInTrace,
} from '../../../functions/shared/observability/trace-context.ts';

describe('W3C traceparent', () => {
  it('returns the trace of a well-formed traceparent', () => {
    expect(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      sampled: true,
    });
  });

  it('returns nothing for a malformed or all-zero traceparent', () => {
    for (const value of [
      undefined,
      '',
      'garbage',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
    ])
      expect(parseTraceparent(value)).toBeUndefined();
  });

  it('returns a new trace when none is offered, and a new span of an offered one', () => {
    const fresh = continueTrace(undefined);
    expect(fresh.traceId).toMatch(/^[0-9a-f]{32}$/);
    const child = continueTrace('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    expect(child.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(child.spanId).not.toBe('00f067aa0ba902b7');
  });

  it('returns the current trace as the outgoing traceparent only inside it', () => {
    const trace = continueTrace(undefined);
    expect(outgoingTraceparent()).toBeUndefined();
    expect(runInTrace(trace, () => outgoingTraceparent())).toBe(`00-${trace.traceId}-${trace.spanId}-01`);
  });
});
