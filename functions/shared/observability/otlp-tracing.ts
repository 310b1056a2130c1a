import type { Attributes, SpanKind } from '@opentelemetry/api';
import { z } from 'zod';
import { defineEnvContract } from '../config/env-contract.ts';
import type { SpanExport } from './otlp-exporter.ts';
import type { TraceContext } from './trace-context.ts';

/**
 * Where a node exports its spans over OTLP/HTTP (e.g. `http://collector:4318/v1/traces`). Unset (the
 * default), no span is exported; on AWS the Powertools tracer (X-Ray) records them instead (HLD §9.1).
 */
export const otlpTracingEnv = defineEnvContract({
  AGENTOS_OTLP_TRACES_URL: z.url().optional(),
});

/** One finished span, as {@link exportSpan} was given it. */
export type FinishedSpan = {
  name: string;
  context: TraceContext;
  attributes: Attributes;
  startedAtMs: number;
  endedAtMs: number;
  /** Default: server. */
  kind: SpanKind | undefined;
};

/**
 * The most spans held while the OpenTelemetry SDK loads, the batch processor's own queue size:
 * beyond it spans are dropped, as that processor drops them.
 */
const maxSpansWhileLoading = 2_048;

type Exporting = {
  url: string;
  /** Set once the SDK has loaded. */
  export: SpanExport | undefined;
  /** The spans finished while it loads, replayed when it has. */
  waiting: FinishedSpan[];
  loaded: Promise<void>;
};

/** One exporter per process, on `globalThis` since bundled handlers each have a copy of this module. */
const slot = globalThis as { [key: symbol]: Exporting | null };
const key = Symbol.for('agentos.otlp-tracing.v2');

function exporting(): Exporting | undefined {
  if (slot[key] !== undefined) return slot[key] ?? undefined;
  const url = otlpTracingEnv.parse(process.env).AGENTOS_OTLP_TRACES_URL;
  if (url === undefined) {
    slot[key] = null;
    return undefined;
  }
  // The SDK loads on the first span, in the background: a node without an endpoint never loads it.
  const target: Exporting = { url, export: undefined, waiting: [], loaded: Promise.resolve() };
  target.loaded = import('./otlp-exporter.ts').then(
    ({ createSpanExport }) => {
      const spans = createSpanExport(url);
      for (const span of target.waiting.splice(0)) spans.record(span);
      target.export = spans;
    },
    (error: unknown) => {
      // Tracing must not fail a request: the spans are dropped, and the log says why.
      target.waiting.length = 0;
      console.error(
        JSON.stringify({ level: 'ERROR', message: 'OTLP span export unavailable', error: String(error) }),
      );
    },
  );
  slot[key] = target;
  return target;
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
  kind?: SpanKind,
): void {
  const target = exporting();
  if (target === undefined) return;
  const span: FinishedSpan = { name, context, attributes, startedAtMs, endedAtMs: Date.now(), kind };
  if (target.export !== undefined) target.export.record(span);
  else if (target.waiting.length < maxSpansWhileLoading) target.waiting.push(span);
}

/** Sends the spans still batched (at shutdown, and in tests). */
export async function flushSpans(): Promise<void> {
  const target = exporting();
  if (target === undefined) return;
  await target.loaded;
  await target.export?.flush();
}
