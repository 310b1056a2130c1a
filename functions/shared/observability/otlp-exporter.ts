import { ROOT_CONTEXT, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { FinishedSpan } from './otlp-tracing.ts';

/**
 * The OpenTelemetry SDK side of otlp-tracing.ts, loaded only by a process that exports spans (a
 * node with `AGENTOS_OTLP_TRACES_URL` set): on AWS no span is exported over OTLP, so no function
 * loads the SDK.
 */

/** Spans to one OTLP/HTTP endpoint, batched. */
export type SpanExport = {
  record(span: FinishedSpan): void;
  flush(): Promise<void>;
};

/** Exports finished spans to `url` over OTLP/HTTP, in batches. */
export function createSpanExport(url: string): SpanExport {
  const provider = new TracerProvider({
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url, timeoutMillis: 5_000 }),
        maxQueueSize: 2_048,
      }),
    ],
  });
  const tracer = provider.getTracer('agentos');
  return {
    record: (finished) => {
      const parent = trace.setSpanContext(ROOT_CONTEXT, {
        traceId: finished.context.traceId,
        spanId: finished.context.spanId,
        traceFlags: finished.context.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
        isRemote: true,
      });
      const span = tracer.startSpan(
        finished.name,
        {
          kind: finished.kind ?? SpanKind.SERVER,
          attributes: finished.attributes,
          startTime: finished.startedAtMs,
        },
        parent,
      );
      span.end(finished.endedAtMs);
    },
    flush: () => provider.forceFlush(),
  };
}
