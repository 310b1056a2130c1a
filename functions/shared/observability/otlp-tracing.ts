import { ROOT_CONTEXT, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import type { Attributes } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { z } from 'zod';
import { defineEnvContract } from '../config/env-contract.ts';
import type { TraceContext } from './trace-context.ts';

/**
 * Where a node exports its spans over OTLP/HTTP (e.g. `http://collector:4318/v1/traces`). Unset (the
 * default), no span is exported; on AWS the Powertools tracer (X-Ray) records them instead (HLD §9.1).
 */
export const otlpTracingEnv = defineEnvContract({
  AGENTOS_OTLP_TRACES_URL: z.url().optional(),
});

type Exporting = { provider: TracerProvider; url: string } | undefined;

/** One provider per process, on `globalThis` since bundled handlers each have a copy of this module. */
const slot = globalThis as { [key: symbol]: Exporting | null };
const key = Symbol.for('agentos.otlp-tracing');

function exporting(): Exporting {
  if (slot[key] !== undefined) return slot[key] ?? undefined;
  const url = otlpTracingEnv.parse(process.env).AGENTOS_OTLP_TRACES_URL;
  const provider =
    url === undefined
      ? undefined
      : new TracerProvider({
          spanProcessors: [
            new BatchSpanProcessor({
              exporter: new OTLPTraceExporter({ url, timeoutMillis: 5_000 }),
              maxQueueSize: 2_048,
            }),
          ],
        });
  slot[key] = provider === undefined || url === undefined ? null : { provider, url };
  return slot[key] ?? undefined;
}

/**
 * Exports one finished span of `context`'s trace (its span id the span's parent), with tenant and
 * run attributes; nothing when no OTLP endpoint is configured. Never keyed by secrets: callers pass
 * ids and statuses only.
 */
export function exportSpan(
  name: string,
  context: TraceContext,
  attributes: Attributes,
  startedAtMs: number,
  kind: SpanKind = SpanKind.SERVER,
): void {
  const target = exporting();
  if (target === undefined) return;
  const parent = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: context.traceId,
    spanId: context.spanId,
    traceFlags: context.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
  });
  const span = target.provider
    .getTracer('agentos')
    .startSpan(name, { kind, attributes, startTime: startedAtMs }, parent);
  span.end();
}

/** Sends the spans still batched (at shutdown, and in tests). */
export async function flushSpans(): Promise<void> {
  await exporting()?.provider.forceFlush();
}
