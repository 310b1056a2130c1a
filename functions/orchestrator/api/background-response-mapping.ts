import type { RunEvent } from '../schemas/event.ts';
import type { Run, RunStatus } from '../schemas/run.ts';
import { responseIdOf } from '../schemas/background-response.ts';
import type {
  BackgroundResponse,
  BackgroundResponseEvent,
  OutputMessage,
} from '../schemas/background-response.ts';

/**
 * How a run reads as an OpenAI Responses-style background response (HLD §2.1), and how its stored
 * events become the response's typed stream events. The stream is derived from the run's event log
 * alone, from its first event, so every reconnect numbers the same events the same way and
 * `starting_after` resumes exactly, for as long as the run is kept.
 */

const statusOf: Record<RunStatus, BackgroundResponse['status']> = {
  queued: 'queued',
  running: 'in_progress',
  completed: 'completed',
  failed: 'failed',
  canceled: 'cancelled',
};

type Usage = { input: number; output: number };

function usageOf({ input, output }: Usage): BackgroundResponse['usage'] {
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: input + output,
  };
}

/** The answer message of a completed run, as the response's one output item. */
function outputMessage(runId: string, text: string): OutputMessage {
  return {
    id: `msg_${runId.slice('run_'.length)}`,
    type: 'message',
    role: 'assistant',
    status: 'completed',
    content: [{ type: 'output_text', text, annotations: [] }],
  };
}

type Snapshot = {
  status: BackgroundResponse['status'];
  output: OutputMessage[];
  error: BackgroundResponse['error'];
  usage: Usage;
};

function responseFrom(run: Run, eventsUrl: string, snapshot: Snapshot): BackgroundResponse {
  return {
    id: responseIdOf(run.run_id),
    object: 'response',
    created_at: Math.floor(Date.parse(run.created_at) / 1000),
    status: snapshot.status,
    background: true,
    model: run.agent_id,
    output: snapshot.output,
    error: snapshot.error,
    incomplete_details: null,
    instructions: null,
    metadata: run.metadata ?? {},
    usage: usageOf(snapshot.usage),
    parallel_tool_calls: true,
    tool_choice: 'auto',
    tools: [],
    text: { format: { type: 'text' } },
    store: true,
    agentos: { run_id: run.run_id, agent_version: run.agent_version, events_url: eventsUrl },
  };
}

/** A run as a background response, as it is now. */
export function runToResponse(run: Run, eventsUrl: string): BackgroundResponse {
  const text = run.output?.message.content;
  return responseFrom(run, eventsUrl, {
    status: statusOf[run.status],
    output: run.status === 'completed' ? [outputMessage(run.run_id, text ?? '')] : [],
    error:
      run.status === 'failed' && run.error !== null
        ? { code: run.error.code, message: run.error.message }
        : null,
    usage: { input: run.usage.prompt_tokens, output: run.usage.completion_tokens },
  });
}

/**
 * A mapper of one run's events, in sequence order from its first, to the response's typed events,
 * numbered from 0. Keeps what it needs between events (the usage so far); events that say nothing a
 * Responses client knows (steps, tool calls, fallbacks) map to none.
 */
export function responseEventMapper(
  run: Run,
  eventsUrl: string,
): (event: RunEvent) => BackgroundResponseEvent[] {
  let next = 0;
  const usage: Usage = { input: 0, output: 0 };
  const snapshot = (status: BackgroundResponse['status'], extra: Partial<Snapshot> = {}) =>
    responseFrom(run, eventsUrl, { status, output: [], error: null, usage: { ...usage }, ...extra });
  const typed = (type: string, fields: Record<string, unknown>): BackgroundResponseEvent => ({
    type,
    sequence_number: next++,
    ...fields,
  });
  return (event) => {
    switch (event.type) {
      case 'run.queued': {
        const response = snapshot('queued');
        return [typed('response.created', { response }), typed('response.queued', { response })];
      }
      case 'run.started':
        return [typed('response.in_progress', { response: snapshot('in_progress') })];
      case 'model.completed': {
        const data = event.data as { usage?: { prompt_tokens?: number; completion_tokens?: number } };
        usage.input += data.usage?.prompt_tokens ?? 0;
        usage.output += data.usage?.completion_tokens ?? 0;
        return [];
      }
      case 'run.completed': {
        const data = event.data as { output: { message: { content: string | null } } };
        const text = data.output.message.content ?? '';
        const item = outputMessage(run.run_id, text);
        const at = { item_id: item.id, output_index: 0, content_index: 0 };
        const part = { type: 'output_text', text, annotations: [] };
        return [
          typed('response.output_item.added', {
            output_index: 0,
            item: { ...item, status: 'in_progress', content: [] },
          }),
          typed('response.content_part.added', { ...at, part: { ...part, text: '' } }),
          typed('response.output_text.delta', { ...at, delta: text, logprobs: [] }),
          typed('response.output_text.done', { ...at, text, logprobs: [] }),
          typed('response.content_part.done', { ...at, part }),
          typed('response.output_item.done', { output_index: 0, item }),
          typed('response.completed', { response: snapshot('completed', { output: [item] }) }),
        ];
      }
      case 'run.failed': {
        const data = event.data as { error: { code: string; message: string } };
        const error = { code: data.error.code, message: data.error.message };
        return [typed('response.failed', { response: snapshot('failed', { error }) })];
      }
      case 'run.canceled':
        // The Responses API names no stream event for it; its webhook event's name is used.
        return [typed('response.cancelled', { response: snapshot('cancelled') })];
      default:
        return [];
    }
  };
}

/** One typed event as a server-sent event. */
export function responseEventFrame(event: BackgroundResponseEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}
