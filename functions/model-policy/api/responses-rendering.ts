import type { StreamDelta } from '../invocation/stream-pump.ts';
import type { StoredCall } from '../schemas/stored-call.ts';
import { isFunctionTool } from '../schemas/openai-responses.ts';
import type {
  CreateResponseRequest,
  ResponseObject,
  ResponseOutputItem,
  ResponseOutputPart,
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

/** A message the stream announced: its output index and the text streamed into it so far. */
type OpenMessage = { index: number; id: string; text: string };

/** A function call the stream announced, by its delta index: what its pieces carried so far. */
type OpenFunctionCall = { index: number; id: string; callId: string; name: string; arguments: string };

/** Pieces of a tool call seen before one carried its id: held, since clients pin `call_id` at announcement. */
type PendingFunctionCall = { name: string; arguments: string };

/**
 * Turns the chat path's stream deltas into Responses API events, numbering them. Items open as their
 * first delta arrives (a function call once a piece carries its id) and stay open until the call
 * ends, so pieces of parallel tool calls may interleave and text held back by output redaction still
 * lands in its message; the finished call is authoritative for what each item holds when it closes
 * (redaction may rewrite text and hold tool calls back until the end). Finished tool calls are
 * matched to announced ones by call id, never by position: the finished call packs them in order.
 */
export class ResponseEventWriter {
  readonly #identity: ResponseIdentity;
  readonly #body: CreateResponseRequest;
  #sequence = 0;
  #outputCount = 0;
  #message: OpenMessage | undefined;
  /** The announced function calls, by their delta index. */
  readonly #calls = new Map<number, OpenFunctionCall>();
  /** Tool calls whose pieces arrived before their id, by delta index. */
  readonly #pendingCalls = new Map<number, PendingFunctionCall>();
  /** Function calls announced so far: numbers their item ids in announcement order, as `outputOf` does. */
  #functionCallCount = 0;

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

  #announceMessage(part: ResponseOutputPart): { open: OpenMessage; events: string } {
    const open: OpenMessage = {
      index: this.#outputCount++,
      id: messageIdOf(this.#identity.completionId),
      text: '',
    };
    this.#message = open;
    return {
      open,
      events:
        this.#event({
          type: 'response.output_item.added',
          output_index: open.index,
          item: { type: 'message', id: open.id, status: 'in_progress', role: 'assistant', content: [] },
        }) +
        this.#event({
          type: 'response.content_part.added',
          item_id: open.id,
          output_index: open.index,
          content_index: 0,
          part,
        }),
    };
  }

  #announceFunctionCall(callId: string, name: string): { open: OpenFunctionCall; events: string } {
    const open: OpenFunctionCall = {
      index: this.#outputCount++,
      id: functionCallIdOf(this.#identity.completionId, this.#functionCallCount++),
      callId,
      name,
      arguments: '',
    };
    return {
      open,
      events: this.#event({
        type: 'response.output_item.added',
        output_index: open.index,
        item: {
          type: 'function_call',
          id: open.id,
          status: 'in_progress',
          call_id: callId,
          name,
          arguments: '',
        },
      }),
    };
  }

  #argumentsDelta(open: OpenFunctionCall, piece: string): string {
    open.arguments += piece;
    return this.#event({
      type: 'response.function_call_arguments.delta',
      item_id: open.id,
      output_index: open.index,
      delta: piece,
    });
  }

  /** The events of one delta of the chat path. */
  delta(delta: StreamDelta): string {
    let out = '';
    if (delta.content !== undefined && delta.content !== '') {
      let open = this.#message;
      if (open === undefined) {
        const announced = this.#announceMessage(emptyTextPart());
        open = announced.open;
        out += announced.events;
      }
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
      const open = this.#calls.get(piece.index);
      if (open !== undefined) {
        if (piece.arguments !== undefined && piece.arguments !== '')
          out += this.#argumentsDelta(open, piece.arguments);
        continue;
      }
      const pending = this.#pendingCalls.get(piece.index) ?? { name: '', arguments: '' };
      if (pending.name === '' && piece.name !== undefined) pending.name = piece.name;
      pending.arguments += piece.arguments ?? '';
      if (piece.id === undefined || piece.id === '') {
        this.#pendingCalls.set(piece.index, pending);
        continue;
      }
      this.#pendingCalls.delete(piece.index);
      const announced = this.#announceFunctionCall(piece.id, pending.name);
      this.#calls.set(piece.index, announced.open);
      out += announced.events;
      if (pending.arguments !== '') out += this.#argumentsDelta(announced.open, pending.arguments);
    }
    return out;
  }

  /** Closes the message with its final content part (text or refusal). */
  #closeMessage(open: OpenMessage, part: ResponseOutputPart, status: ItemStatus): ClosedItem {
    const where = { item_id: open.id, output_index: open.index, content_index: 0 };
    const item: ResponseOutputItem = {
      type: 'message',
      id: open.id,
      status,
      role: 'assistant',
      content: [part],
    };
    const partDone =
      part.type === 'output_text'
        ? this.#event({ type: 'response.output_text.done', ...where, text: part.text, logprobs: [] })
        : this.#event({ type: 'response.refusal.delta', ...where, delta: part.refusal }) +
          this.#event({ type: 'response.refusal.done', ...where, refusal: part.refusal });
    return {
      index: open.index,
      item,
      events:
        partDone +
        this.#event({ type: 'response.content_part.done', ...where, part }) +
        this.#event({ type: 'response.output_item.done', output_index: open.index, item }),
    };
  }

  #closeFunctionCall(open: OpenFunctionCall, final: ToolCall | undefined): ClosedItem {
    const name = final?.function.name ?? open.name;
    const args = final?.function.arguments ?? open.arguments;
    const item: ResponseOutputItem = {
      type: 'function_call',
      id: open.id,
      status: 'completed',
      call_id: final?.id ?? open.callId,
      name,
      arguments: args,
    };
    return {
      index: open.index,
      item,
      events:
        this.#event({
          type: 'response.function_call_arguments.done',
          item_id: open.id,
          output_index: open.index,
          name,
          arguments: args,
        }) + this.#event({ type: 'response.output_item.done', output_index: open.index, item }),
    };
  }

  /**
   * The events that end the stream: every announced item closed, in output order, with the call's
   * final content; then every item the deltas did not announce (the message first, then the function
   * calls); then `response.completed` (or `response.incomplete`) whose output holds the items by
   * output index.
   */
  finish(call: StoredCall): string {
    const final = responseOf(call, this.#body);
    const finalMessage = final.output.find((item) => item.type === 'message');
    const toolCalls = call.message.tool_calls ?? [];
    const closed: ClosedItem[] = [];
    const announced: { index: number; close: () => ClosedItem }[] = [];
    const message = this.#message;
    if (message !== undefined) {
      // A message the deltas announced keeps its text part; the final text is authoritative.
      const text =
        finalMessage?.content[0]?.type === 'output_text' ? finalMessage.content[0].text : message.text;
      announced.push({
        index: message.index,
        close: () =>
          this.#closeMessage(message, { ...emptyTextPart(), text }, finalMessage?.status ?? 'completed'),
      });
    }
    const finalById = new Map(toolCalls.map((toolCall) => [toolCall.id, toolCall]));
    for (const open of this.#calls.values()) {
      announced.push({
        index: open.index,
        close: () => this.#closeFunctionCall(open, finalById.get(open.callId)),
      });
    }
    for (const { close } of announced.sort((a, b) => a.index - b.index)) closed.push(close());
    if (message === undefined && finalMessage !== undefined) {
      const part = finalMessage.content[0] ?? emptyTextPart();
      const { open, events } = this.#announceMessage(
        part.type === 'refusal' ? { type: 'refusal', refusal: '' } : emptyTextPart(),
      );
      const done = this.#closeMessage(open, part, finalMessage.status);
      closed.push({ ...done, events: events + done.events });
    }
    const announcedIds = new Set([...this.#calls.values()].map((open) => open.callId));
    for (const toolCall of toolCalls) {
      if (announcedIds.has(toolCall.id)) continue;
      const added = this.#announceFunctionCall(toolCall.id, toolCall.function.name);
      const done = this.#closeFunctionCall(added.open, toolCall);
      closed.push({ ...done, events: added.events + done.events });
    }
    const output = [...closed].sort((a, b) => a.index - b.index).map(({ item }) => item);
    return (
      closed.map(({ events }) => events).join('') +
      this.#event({
        type: final.status === 'incomplete' ? 'response.incomplete' : 'response.completed',
        response: { ...final, output },
      })
    );
  }

  /** `response.failed` then an `error` event, for a failure after the stream started. */
  fail(code: string, message: string): string {
    const response: ResponseObject = { ...this.#pending(), status: 'failed', error: { code, message } };
    return (
      this.#event({ type: 'response.failed', response }) +
      this.#event({ type: 'error', code, message, param: null })
    );
  }
}

type ItemStatus = 'in_progress' | 'completed' | 'incomplete';

type ToolCall = NonNullable<StoredCall['message']['tool_calls']>[number];

/** An item closed by `finish`: its output index, its final form and the events that closed it. */
type ClosedItem = { index: number; item: ResponseOutputItem; events: string };

function emptyTextPart(): Extract<ResponseOutputPart, { type: 'output_text' }> {
  return { type: 'output_text', text: '', annotations: [], logprobs: [] };
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
