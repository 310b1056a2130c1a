import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';

/** The W3C trace context of the work in progress (HLD §9.1): its trace, and the span it runs in. */
export type TraceContext = { traceId: string; spanId: string; sampled: boolean };

/** The header name W3C Trace Context propagates a trace in (HTTP requests, SQS message attributes). */
export const traceparentHeader = 'traceparent';

/**
 * A `traceparent` of any version: version, trace id, parent id, flags, then (from version 01 on)
 * possibly more fields after a `-`, which a version-00 parser ignores (W3C Trace Context §4.3).
 */
const traceparentPattern = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const storage = new AsyncLocalStorage<TraceContext>();

/**
 * A `traceparent` value's context, or undefined when absent or malformed. Version `00` has exactly
 * its four fields; a higher version whose first four fields parse is read as `00`, as W3C Trace
 * Context requires of a parser that knows only `00`; version `ff` and all-zero ids are invalid.
 */
export function parseTraceparent(value: string | undefined): TraceContext | undefined {
  const match = traceparentPattern.exec(value?.trim().toLowerCase() ?? '');
  if (match === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string | undefined,
  ];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId, sampled: (Number.parseInt(flags, 16) & 1) === 1 };
}

/**
 * A new span of the trace `value` names, or of a new trace when it names none: the context a
 * service runs an incoming request or message in.
 */
export function continueTrace(value: string | undefined): TraceContext {
  const parent = parseTraceparent(value);
  return {
    traceId: parent?.traceId ?? randomBytes(16).toString('hex'),
    spanId: randomBytes(8).toString('hex'),
    sampled: parent?.sampled ?? true,
  };
}

/** Runs `work` in `context`: outgoing calls it makes carry the trace. */
export function runInTrace<T>(context: TraceContext, work: () => T): T {
  return storage.run(context, work);
}

/** The trace the current work runs in, if any. */
export function currentTrace(): TraceContext | undefined {
  return storage.getStore();
}

/** The `traceparent` an outgoing call of the current work carries, or undefined outside a trace. */
export function outgoingTraceparent(): string | undefined {
  const context = storage.getStore();
  if (context === undefined) return undefined;
  return `00-${context.traceId}-${context.spanId}-${context.sampled ? '01' : '00'}`;
}

/** Headers that carry a caller's trace vendor state or baggage: never sent on by the node. */
const callerTraceHeaders = new Set(['tracestate', 'baggage']);

/**
 * `headers` with the current trace's `traceparent` added, when there is one: the trace id goes on
 * (HLD §9.1) with the node's own span as the parent. A caller's `tracestate` and `baggage` never go
 * on (to a model provider they would hand a third party whatever the caller put in them), so any
 * such header in `headers` is dropped.
 */
export function withTraceparent(headers: Record<string, string>): Record<string, string> {
  const sent = Object.fromEntries(
    Object.entries(headers).filter(
      ([name]) => !callerTraceHeaders.has(name.toLowerCase()) && name.toLowerCase() !== traceparentHeader,
    ),
  );
  const traceparent = outgoingTraceparent();
  return traceparent === undefined ? sent : { ...sent, [traceparentHeader]: traceparent };
}
