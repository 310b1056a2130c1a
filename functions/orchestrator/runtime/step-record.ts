import type { ChatMessage } from '../../shared/contracts/chat.ts';
import type { ModelInvokeResponse } from '../../shared/contracts/model-invocation.ts';
import { maxRunRecordBytes } from '../ports/run-state-port.ts';
import type { RunError } from '../schemas/run.ts';
import type { StepRecord, ToolCallRecord } from '../schemas/step.ts';

/** Longest tool output or arguments a step record keeps; the run's events keep them whole. */
export const maxRecordedTextBytes = 16 * 1024;

/** `text` cut to at most `max` UTF-8 bytes, never inside a character. */
export function cutText(text: string, max = maxRecordedTextBytes): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= max) return text;
  let end = max;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end).toString('utf8');
}

/** What one step did, as the engine saw it, for its step record. */
export type StepTrace = {
  runId: string;
  step: number;
  /** The delivery of the step's task this is (`StepDelivery.attempt`). */
  deliveries: number;
  startedAt: Date;
  endedAt: Date;
  model: {
    requestId: string;
    modelRef: string;
    /** The messages sent (system, input, transcript tail). */
    messages: readonly ChatMessage[];
    durationMs: number;
    /** The answer, when the model call succeeded. */
    response?: ModelInvokeResponse;
  };
  toolCalls: readonly ToolCallRecord[];
  /** Why the step failed the run, if it did. */
  error: RunError | null;
};

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

/** The calls with each argument and attempt output cut to at most `bytes`. */
function callsWithin(calls: readonly ToolCallRecord[], bytes: number): ToolCallRecord[] {
  return calls.map((call) => ({
    ...call,
    arguments: cutText(call.arguments, bytes),
    attempts: call.attempts.map((attempt) => ({ ...attempt, output: cutText(attempt.output, bytes) })),
  }));
}

/**
 * The step's tool calls as its record keeps them, so the record stays one stored item however many
 * calls the model asked for (HLD §4.2): arguments and outputs are cut shorter the more there are,
 * and only when even empty ones would not fit are the last calls left out (their events keep them).
 */
function boundedCalls(record: StepRecord, maxBytes: number): ToolCallRecord[] {
  for (let bytes = maxRecordedTextBytes; bytes > 0; bytes = Math.floor(bytes / 2)) {
    const calls = callsWithin(record.tool_calls, bytes);
    if (jsonBytes({ ...record, tool_calls: calls }) <= maxBytes) return calls;
  }
  const kept: ToolCallRecord[] = [];
  let bytes = jsonBytes({ ...record, tool_calls: [] });
  for (const call of callsWithin(record.tool_calls, 0)) {
    // The call's JSON and the comma before it.
    bytes += jsonBytes(call) + 1;
    if (bytes > maxBytes) break;
    kept.push(call);
  }
  return kept;
}

/**
 * The record `GET /v1/runs/{run_id}/steps` returns for a step (schemas/step.ts), within `maxBytes`
 * of JSON (what one stored step record may take).
 */
export function stepRecord(trace: StepTrace, maxBytes = maxRunRecordBytes): StepRecord {
  const record = fullStepRecord(trace);
  if (jsonBytes(record) <= maxBytes) return record;
  return { ...record, tool_calls: boundedCalls(record, maxBytes) };
}

function fullStepRecord(trace: StepTrace): StepRecord {
  const { response } = trace.model;
  return {
    object: 'step',
    run_id: trace.runId,
    step: trace.step,
    status: trace.error === null ? 'completed' : 'failed',
    started_at: trace.startedAt.toISOString(),
    ended_at: trace.endedAt.toISOString(),
    duration_ms: Math.max(0, trace.endedAt.getTime() - trace.startedAt.getTime()),
    deliveries: Math.max(1, trace.deliveries),
    model: {
      request_id: trace.model.requestId,
      model_ref: trace.model.modelRef,
      message_count: trace.model.messages.length,
      request_bytes: Buffer.byteLength(JSON.stringify(trace.model.messages), 'utf8'),
      finish_reason: response?.output.finish_reason ?? null,
      usage:
        response === undefined
          ? null
          : {
              prompt_tokens: response.usage.prompt_tokens,
              completion_tokens: response.usage.completion_tokens,
              cost_usd: response.usage.cost_usd,
            },
      provider: response?.route.provider ?? null,
      model: response?.route.model ?? null,
      duration_ms: Math.max(0, Math.round(trace.model.durationMs)),
    },
    tool_calls: [...trace.toolCalls],
    error: trace.error,
  };
}
