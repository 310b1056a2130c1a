import { describe, expect, it } from 'vitest';
import {
  continueTrace,
  outgoingTraceparent,
  parseTraceparent,
  runInTrace,
  withTraceparent,
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

describe('W3C traceparent versions', () => {
  const ids = '4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

  it('returns the trace of a higher version whose first four fields parse, as version 00', () => {
    for (const value of [`01-${ids}`, `cc-${ids}`, `01-${ids}-what-the-future-holds`])
      expect(parseTraceparent(value)).toEqual({
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        spanId: '00f067aa0ba902b7',
        sampled: true,
      });
  });

  it('returns nothing for version ff, for version 00 with more fields, and for a higher version run on without a dash', () => {
    for (const value of [`ff-${ids}`, `00-${ids}-extra`, `01-${ids}extra`, `0-${ids}`])
      expect(parseTraceparent(value)).toBeUndefined();
  });
});

describe('outgoing trace headers', () => {
  const callers = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

  it("returns the caller's trace id with the node's own span id, and never the caller's tracestate or baggage", () => {
    const trace = continueTrace(callers);
    const headers = runInTrace(trace, () =>
      withTraceparent({
        'content-type': 'application/json',
        tracestate: 'vendor=caller-secret',
        Baggage: 'user=planted',
        traceparent: callers,
      }),
    );
    expect(headers).toEqual({
      'content-type': 'application/json',
      traceparent: `00-4bf92f3577b34da6a3ce929d0e0e4736-${trace.spanId}-01`,
    });
    expect(trace.spanId).not.toBe('00f067aa0ba902b7');
  });

  it('returns the headers without any trace header outside a trace', () => {
    expect(withTraceparent({ accept: 'text/event-stream', tracestate: 'vendor=x' })).toEqual({
      accept: 'text/event-stream',
    });
  });
});
