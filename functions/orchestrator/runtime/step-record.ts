import type { ChatMessage } from '../../shared/contracts/chat.ts';
import type { ModelInvokeResponse } from '../../shared/contracts/model-invocation.ts';
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

/** The record `GET /v1/runs/{run_id}/steps` returns for a step (schemas/step.ts). */
export function stepRecord(trace: StepTrace): StepRecord {
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
