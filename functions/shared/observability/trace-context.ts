import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';

/** The W3C trace context of the work in progress (HLD §9.1): its trace, and the span it runs in. */
export type TraceContext = { traceId: string; spanId: string; sampled: boolean };

/** The header name W3C Trace Context propagates a trace in (HTTP requests, SQS message attributes). */
export const traceparentHeader = 'traceparent';

const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const storage = new AsyncLocalStorage<TraceContext>();

/** A `traceparent` value's context, or undefined when absent or malformed (all-zero ids are invalid). */
export function parseTraceparent(value: string | undefined): TraceContext | undefined {
  const match = traceparentPattern.exec(value?.trim().toLowerCase() ?? '');
  if (match === null || /^0+$/.test(match[1]!) || /^0+$/.test(match[2]!)) return undefined;
  return { traceId: match[1]!, spanId: match[2]!, sampled: (Number.parseInt(match[3]!, 16) & 1) === 1 };
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

/** `headers` with the current trace's `traceparent` added, when there is one. */
export function withTraceparent(headers: Record<string, string>): Record<string, string> {
  const traceparent = outgoingTraceparent();
  return traceparent === undefined ? headers : { ...headers, [traceparentHeader]: traceparent };
}
