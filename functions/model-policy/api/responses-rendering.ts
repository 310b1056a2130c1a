import type { StreamDelta } from '../invocation/stream-pump.ts';
import type { StoredCall } from '../schemas/stored-call.ts';
import { isFunctionTool } from '../schemas/openai-responses.ts';
import type {
  CreateResponseRequest,
  ResponseObject,
  ResponseOutputItem,
  ResponseStreamEvent,
} from '../schemas/openai-responses.ts';

/**
 * Renders calls of the chat path as Responses API objects and stream events. Ids derive from the
 * call's completion id, so a replay of the same `X-Request-Id` answers the same ids.
 */

/** Identity shared by every event of one response: its ids derive from the completion id. */
export type ResponseIdentity = { completionId: string; created: number; model: string };

function suffixOf(completionId: string): string {
  return completionId.replace(/^chatcmpl-/, '');
}

function responseIdOf(completionId: string): string {
  return `resp_${suffixOf(completionId)}`;
}

function messageIdOf(completionId: string): string {
  return `msg_${suffixOf(completionId)}`;
}

function functionCallIdOf(completionId: string, index: number): string {
  return `fc_${suffixOf(completionId)}_${index}`;
}

/** The response's output items: the message (when it has text or no tool calls), then each function call. */
function outputOf(call: StoredCall): ResponseOutputItem[] {
  const { message } = call;
  const toolCalls = message.tool_calls ?? [];
  const items: ResponseOutputItem[] = [];
  const text = message.content ?? '';
  const refusal = message.refusal ?? undefined;
  if (text !== '' || refusal !== undefined || toolCalls.length === 0) {
    items.push({
      type: 'message',
      id: messageIdOf(call.completion_id),
      status: call.finish_reason === 'length' ? 'incomplete' : 'completed',
      role: 'assistant',
      content:
        refusal !== undefined && text === ''
          ? [{ type: 'refusal', refusal }]
          : [{ type: 'output_text', text, annotations: [], logprobs: [] }],
    });
  }
  for (const [index, toolCall] of toolCalls.entries()) {
    items.push({
      type: 'function_call',
      id: functionCallIdOf(call.completion_id, index),
      status: 'completed',
      call_id: toolCall.id,
      name: toolCall.function.name,
      arguments: toolCall.function.arguments,
    });
  }
  return items;
}

/** The response object, echoing the request's settings; `in_progress` with no output before a call ends. */
function responseShell(
  identity: ResponseIdentity,
  body: CreateResponseRequest,
): Omit<ResponseObject, 'status' | 'output' | 'usage' | 'incomplete_details' | 'error'> {
  return {
    id: responseIdOf(identity.completionId),
    object: 'response',
    created_at: identity.created,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    model: identity.model,
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: false,
    temperature: body.temperature ?? null,
    text: { format: body.text?.format ?? { type: 'text' } },
    tool_choice: body.tool_choice ?? 'auto',
    tools: (body.tools ?? []).filter(isFunctionTool),
    top_p: body.top_p ?? null,
    truncation: 'disabled',
    user: body.user ?? null,
    metadata: body.metadata ?? {},
  };
}

/** The response of a finished call. */
export function responseOf(call: StoredCall, body: CreateResponseRequest): ResponseObject {
  const incomplete =
    call.finish_reason === 'length'
      ? ({ reason: 'max_output_tokens' } as const)
      : call.finish_reason === 'content_filter'
        ? ({ reason: 'content_filter' } as const)
        : null;
  return {
    ...responseShell({ completionId: call.completion_id, created: call.created, model: call.model }, body),
    status: incomplete === null ? 'completed' : 'incomplete',
    error: null,
    incomplete_details: incomplete,
    output: outputOf(call),
    usage: {
      input_tokens: call.usage.prompt_tokens,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: call.usage.completion_tokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: call.usage.prompt_tokens + call.usage.completion_tokens,
    },
  };
}

/** One typed SSE event: `event:` names its type, as OpenAI sends them. */
function sse(event: ResponseStreamEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

type Distribute<T> = T extends unknown ? Omit<T, 'sequence_number'> : never;

type OpenItem =
  | { kind: 'message'; index: number; id: string; text: string }
  | { kind: 'function_call'; index: number; id: string; callId: string; name: string; arguments: string };

/**
 * Turns the chat path's stream deltas into Responses API events, numbering them. Items open as their
 * first delta arrives and close when the next item opens or the call ends; the finished call is
 * authoritative for what each item holds (output redaction may hold tool calls back until the end).
 */
export class ResponseEventWriter {
  readonly #identity: ResponseIdentity;
  readonly #body: CreateResponseRequest;
  #sequence = 0;
  #outputCount = 0;
  #open: OpenItem | undefined;
  /** The items closed so far, in output order. */
  readonly #done: ResponseOutputItem[] = [];
  #messageAnnounced = false;
  /** The status a message closes with: `incomplete` only when the call ends cut at its token limit. */
  #messageStatus: 'completed' | 'incomplete' = 'completed';
  /** Output index of each streamed tool call, by its delta index. */
  readonly #toolIndexes = new Map<number, number>();

  constructor(identity: ResponseIdentity, body: CreateResponseRequest) {
    this.#identity = identity;
    this.#body = body;
  }

  #event(event: Distribute<ResponseStreamEvent>): string {
    return sse({ ...event, sequence_number: this.#sequence++ } as ResponseStreamEvent);
  }

  #pending(): ResponseObject {
    return {
      ...responseShell(this.#identity, this.#body),
      status: 'in_progress',
      error: null,
      incomplete_details: null,
      output: [],
      usage: null,
    };
  }

  /** `response.created` and `response.in_progress`. */
  start(): string {
    const response = this.#pending();
    return (
      this.#event({ type: 'response.created', response }) +
      this.#event({ type: 'response.in_progress', response })
    );
  }

  #close(finalText?: string, finalArguments?: string): string {
    const open = this.#open;
    this.#open = undefined;
    if (open === undefined) return '';
    if (open.kind === 'message') {
      const text = finalText ?? open.text;
      const where = { item_id: open.id, output_index: open.index, content_index: 0 };
      const part = { type: 'output_text' as const, text, annotations: [], logprobs: [] };
      const item: ResponseOutputItem = {
        type: 'message',
        id: open.id,
        status: this.#messageStatus,
        role: 'assistant',
        content: [part],
      };
      this.#done.push(item);
      return (
        this.#event({ type: 'response.output_text.done', ...where, text, logprobs: [] }) +
        this.#event({ type: 'response.content_part.done', ...where, part }) +
        this.#event({ type: 'response.output_item.done', output_index: open.index, item })
      );
    }
    const args = finalArguments ?? open.arguments;
    const item: ResponseOutputItem = {
      type: 'function_call',
      id: open.id,
      status: 'completed',
      call_id: open.callId,
      name: open.name,
      arguments: args,
    };
    this.#done.push(item);
    return (
      this.#event({
        type: 'response.function_call_arguments.done',
        item_id: open.id,
        output_index: open.index,
        name: open.name,
        arguments: args,
      }) + this.#event({ type: 'response.output_item.done', output_index: open.index, item })
    );
  }

  #openMessage(): string {
    const index = this.#outputCount++;
    const id = messageIdOf(this.#identity.completionId);
    this.#open = { kind: 'message', index, id, text: '' };
    this.#messageAnnounced = true;
    return (
      this.#event({
        type: 'response.output_item.added',
        output_index: index,
        item: { type: 'message', id, status: 'in_progress', role: 'assistant', content: [] },
      }) +
      this.#event({
        type: 'response.content_part.added',
        item_id: id,
        output_index: index,
        content_index: 0,
        part: { type: 'output_text', text: '', annotations: [], logprobs: [] },
      })
    );
  }

  #openFunctionCall(toolIndex: number, callId: string, name: string): string {
    const index = this.#outputCount++;
    const id = functionCallIdOf(this.#identity.completionId, toolIndex);
    this.#toolIndexes.set(toolIndex, index);
    this.#open = { kind: 'function_call', index, id, callId, name, arguments: '' };
    return this.#event({
      type: 'response.output_item.added',
      output_index: index,
      item: { type: 'function_call', id, status: 'in_progress', call_id: callId, name, arguments: '' },
    });
  }

  /** The events of one delta of the chat path. */
  delta(delta: StreamDelta): string {
    let out = '';
    if (delta.content !== undefined && delta.content !== '') {
      if (this.#open?.kind !== 'message') out += this.#close() + this.#openMessage();
      const open = this.#open as Extract<OpenItem, { kind: 'message' }>;
      open.text += delta.content;
      out += this.#event({
        type: 'response.output_text.delta',
        item_id: open.id,
        output_index: open.index,
        content_index: 0,
        delta: delta.content,
        logprobs: [],
      });
    }
    for (const piece of delta.tool_calls ?? []) {
      if (!this.#toolIndexes.has(piece.index)) {
        out += this.#close() + this.#openFunctionCall(piece.index, piece.id ?? '', piece.name ?? '');
      }
      const open = this.#open;
      if (open?.kind !== 'function_call' || this.#toolIndexes.get(piece.index) !== open.index) continue;
      if (piece.arguments !== undefined && piece.arguments !== '') {
        open.arguments += piece.arguments;
        out += this.#event({
          type: 'response.function_call_arguments.delta',
          item_id: open.id,
          output_index: open.index,
          delta: piece.arguments,
        });
      }
    }
    return out;
  }

  /**
   * The events that end the stream: the open item closed with the call's final content, every item
   * the deltas did not announce, then `response.completed` (or `response.incomplete`) whose output
   * holds the items in the order they were announced.
   */
  finish(call: StoredCall): string {
    const final = responseOf(call, this.#body);
    const finalMessage = final.output.find((item) => item.type === 'message');
    const finalText =
      finalMessage?.type === 'message' && finalMessage.content[0]?.type === 'output_text'
        ? finalMessage.content[0].text
        : undefined;
    const toolCalls = call.message.tool_calls ?? [];
    if (finalMessage?.type === 'message' && finalMessage.status === 'incomplete')
      this.#messageStatus = 'incomplete';
    const open = this.#open;
    let out =
      open?.kind === 'function_call'
        ? this.#close(
            undefined,
            toolCalls.find((toolCall) => toolCall.id === open.callId)?.function.arguments,
          )
        : this.#close(finalText);
    if (!this.#messageAnnounced && finalMessage !== undefined)
      out += this.#openMessage() + this.#close(finalText);
    for (const [index, toolCall] of toolCalls.entries()) {
      if (this.#toolIndexes.has(index)) continue;
      out +=
        this.#openFunctionCall(index, toolCall.id, toolCall.function.name) +
        this.#close(undefined, toolCall.function.arguments);
    }
    const response = { ...final, output: this.#done };
    return (
      out +
      this.#event({
        type: final.status === 'incomplete' ? 'response.incomplete' : 'response.completed',
        response,
      })
    );
  }

  /** `response.failed` then an `error` event, for a failure after the stream started. */
  fail(code: string, message: string): string {
    this.#open = undefined;
    const response: ResponseObject = { ...this.#pending(), status: 'failed', error: { code, message } };
    return (
      this.#event({ type: 'response.failed', response }) +
      this.#event({ type: 'error', code, message, param: null })
    );
  }
}

/** A stored call as the events a replay of a streamed request sends. */
export function* replayEvents(call: StoredCall, body: CreateResponseRequest): Generator<string> {
  const writer = new ResponseEventWriter(
    { completionId: call.completion_id, created: call.created, model: call.model },
    body,
  );
  yield writer.start();
  const { message } = call;
  if (message.content !== null && message.content !== '') {
    yield writer.delta({ type: 'delta', content: message.content });
  }
  for (const [index, toolCall] of (message.tool_calls ?? []).entries()) {
    yield writer.delta({
      type: 'delta',
      tool_calls: [
        { index, id: toolCall.id, name: toolCall.function.name, arguments: toolCall.function.arguments },
      ],
    });
  }
  yield writer.finish(call);
}
