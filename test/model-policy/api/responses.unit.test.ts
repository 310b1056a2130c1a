import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../../functions/shared/errors/agentos-error.ts';
import { ResponseEventWriter, responseOf } from '../../../functions/model-policy/api/responses-rendering.ts';
import { translateResponsesRequest } from '../../../functions/model-policy/api/responses-translation.ts';
import { CreateResponseRequestSchema } from '../../../functions/model-policy/schemas/openai-responses.ts';
import type { CreateResponseRequest } from '../../../functions/model-policy/schemas/openai-responses.ts';
import type { StoredCall } from '../../../functions/model-policy/schemas/stored-call.ts';

function request(body: Record<string, unknown>): CreateResponseRequest {
  return CreateResponseRequestSchema.parse({ model: 'local/echo', ...body });
}

function call(message: StoredCall['message'], finish: StoredCall['finish_reason'] = 'stop'): StoredCall {
  return {
    request_id: 'req_1',
    completion_id: 'chatcmpl-abc',
    created: 1_764_149_400,
    model_ref: 'local/echo',
    model: 'local/echo',
    message,
    finish_reason: finish,
    usage: { prompt_tokens: 10, completion_tokens: 4, cost_nano: 0 },
    route: { model_ref: 'local/echo', provider: 'local', model: 'local/echo', hops: [] } as never,
    policy: { decision: 'allow', redactions: {} } as never,
  };
}

/** A stream writer for the completion `chatcmpl-abc` of `local/echo`. */
function writerFor(body: CreateResponseRequest): ResponseEventWriter {
  return new ResponseEventWriter({ completionId: 'chatcmpl-abc', created: 1, model: 'local/echo' }, body);
}

type Event = { type: string; sequence_number: number; [key: string]: unknown };

function eventsOf(sse: string): Event[] {
  return sse
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => JSON.parse(line.slice(6)) as Event);
}

/** The final response the official `openai` client assembles from a stream, which checks every item's identity. */
async function throughOpenAiClient(sse: string): Promise<OpenAI.Responses.Response> {
  const client = new OpenAI({
    apiKey: 'unused',
    baseURL: 'http://gateway.invalid/v1',
    maxRetries: 0,
    fetch: async () => new Response(sse, { headers: { 'content-type': 'text/event-stream' } }),
  });
  return client.responses.stream({ model: 'local/echo', input: 'hi' }).finalResponse();
}

describe('translateResponsesRequest', () => {
  it('returns instructions as a system message and function calls joined to the assistant turn', () => {
    const translated = translateResponsesRequest(
      request({
        instructions: 'be brief',
        input: [
          { role: 'user', content: [{ type: 'input_text', text: 'find x' }] },
          { type: 'reasoning', id: 'rs_1', summary: [] },
          {
            type: 'message',
            role: 'assistant',
            content: [{ type: 'output_text', text: 'looking', annotations: [] }],
          },
          { type: 'function_call', call_id: 'c1', name: 'lookup', arguments: '{"q":"x"}' },
          { type: 'function_call', call_id: 'c2', name: 'lookup', arguments: '{"q":"y"}' },
          { type: 'function_call_output', call_id: 'c1', output: 'one' },
          { type: 'function_call_output', call_id: 'c2', output: [{ type: 'input_text', text: 'two' }] },
        ],
      }),
    );
    expect(translated.messages).toEqual([
      { role: 'system', content: 'be brief' },
      { role: 'user', content: [{ type: 'text', text: 'find x' }] },
      {
        role: 'assistant',
        content: 'looking',
        tool_calls: [
          { id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } },
          { id: 'c2', type: 'function', function: { name: 'lookup', arguments: '{"q":"y"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'one' },
      { role: 'tool', tool_call_id: 'c2', content: 'two' },
    ]);
  });

  it('returns flat function tools, a named tool choice and text.format as response_format', () => {
    const translated = translateResponsesRequest(
      request({
        input: 'hi',
        tools: [{ type: 'function', name: 'lookup', parameters: { type: 'object' }, strict: true }],
        tool_choice: { type: 'function', name: 'lookup' },
        text: { format: { type: 'json_schema', name: 'out', schema: { type: 'object' }, strict: true } },
      }),
    );
    expect(translated.tools).toEqual([
      { type: 'function', function: { name: 'lookup', parameters: { type: 'object' }, strict: true } },
    ]);
    expect(translated.toolChoice).toEqual({ type: 'function', function: { name: 'lookup' } });
    expect(translated.responseFormat).toEqual({
      type: 'json_schema',
      json_schema: { name: 'out', schema: { type: 'object' }, strict: true },
    });
  });

  it.for([
    [{ store: true }, 'store'],
    [{ previous_response_id: 'resp_1' }, 'previous_response_id'],
    [{ input: [{ type: 'item_reference', id: 'msg_1' }] }, 'input[0]'],
    [{ tools: [{ type: 'file_search', vector_store_ids: ['vs_1'] }] }, 'tools[0].type'],
    [
      { input: [{ role: 'system', content: [{ type: 'input_image', image_url: 'https://x.test/a.png' }] }] },
      'input[0].content[0].type',
    ],
  ] as [Record<string, unknown>, string][])('throws invalid_request naming %o', ([extra, field]) => {
    let thrown: unknown;
    try {
      translateResponsesRequest(request({ input: 'hi', ...extra }));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidRequestError);
    expect((thrown as InvalidRequestError).details).toEqual({ fields: [expect.objectContaining({ field })] });
  });
});

describe('ResponseEventWriter', () => {
  it('returns events numbered from 0, closing every item when the call ends and ending with the whole response', () => {
    const body = request({ input: 'hi', stream: true });
    const writer = writerFor(body);
    const final = call({
      role: 'assistant',
      content: 'ok',
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{}' } }],
    });
    const events = eventsOf(
      writer.start() +
        writer.delta({ type: 'delta', content: 'ok' }) +
        writer.delta({
          type: 'delta',
          tool_calls: [{ index: 0, id: 'call_1', name: 'lookup', arguments: '' }],
        }) +
        writer.delta({ type: 'delta', tool_calls: [{ index: 0, arguments: '{}' }] }) +
        writer.finish(final),
    );
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
    expect(events.map((event) => event.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.at(-1)?.response).toEqual(responseOf(final, body));
  });

  it('returns whole arguments for parallel tool calls whose pieces interleave', () => {
    const body = request({ input: 'hi', stream: true });
    const writer = writerFor(body);
    const final = call({
      role: 'assistant',
      content: null,
      tool_calls: [
        { id: 'call_a', type: 'function', function: { name: 'a', arguments: '{"x":1}' } },
        { id: 'call_b', type: 'function', function: { name: 'b', arguments: '{"y":2}' } },
      ],
    });
    const events = eventsOf(
      writer.start() +
        writer.delta({
          type: 'delta',
          tool_calls: [{ index: 0, id: 'call_a', name: 'a', arguments: '{"x"' }],
        }) +
        writer.delta({
          type: 'delta',
          tool_calls: [{ index: 1, id: 'call_b', name: 'b', arguments: '{"y"' }],
        }) +
        writer.delta({
          type: 'delta',
          tool_calls: [
            { index: 0, arguments: ':1}' },
            { index: 1, arguments: ':2}' },
          ],
        }) +
        writer.finish(final),
    );
    const deltas = events.filter((event) => event.type === 'response.function_call_arguments.delta');
    expect(deltas.map((event) => [event.output_index, event.delta])).toEqual([
      [0, '{"x"'],
      [1, '{"y"'],
      [0, ':1}'],
      [1, ':2}'],
    ]);
    const done = events.filter((event) => event.type === 'response.function_call_arguments.done');
    expect(done.map((event) => event.arguments)).toEqual(['{"x":1}', '{"y":2}']);
    expect(events.at(-1)?.response).toEqual(responseOf(final, body));
  });

  it('returns each finished call under its own id when the deltas number tool calls from 1', async () => {
    const body = request({ input: 'hi', stream: true });
    const writer = writerFor(body);
    // The finished call packs the tool calls in delta order: positions 0 and 1.
    const final = call({
      role: 'assistant',
      content: null,
      tool_calls: [
        { id: 'call_a', type: 'function', function: { name: 'a', arguments: '{"x":1}' } },
        { id: 'call_b', type: 'function', function: { name: 'b', arguments: '{"y":2}' } },
      ],
    });
    const sse =
      writer.start() +
      writer.delta({
        type: 'delta',
        tool_calls: [{ index: 1, id: 'call_a', name: 'a', arguments: '{"x":1}' }],
      }) +
      writer.delta({
        type: 'delta',
        tool_calls: [{ index: 2, id: 'call_b', name: 'b', arguments: '{"y":2}' }],
      }) +
      writer.finish(final);
    expect(eventsOf(sse).at(-1)?.response).toEqual(responseOf(final, body));
    const assembled = await throughOpenAiClient(sse);
    expect(
      assembled.output.map((item) => (item.type === 'function_call' ? [item.call_id, item.arguments] : [])),
    ).toEqual([
      ['call_a', '{"x":1}'],
      ['call_b', '{"y":2}'],
    ]);
  });

  it('returns the final redacted text when text is followed by a tool call', () => {
    const body = request({ input: 'hi', stream: true });
    const writer = writerFor(body);
    const final = call({
      role: 'assistant',
      content: 'mail [EMAIL] now',
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'send', arguments: '{}' } }],
    });
    const events = eventsOf(
      writer.start() +
        writer.delta({ type: 'delta', content: 'mail ' }) +
        writer.delta({
          type: 'delta',
          tool_calls: [{ index: 0, id: 'call_1', name: 'send', arguments: '{}' }],
        }) +
        writer.delta({ type: 'delta', content: '[EMAIL] now' }) +
        writer.finish(final),
    );
    expect(events.filter((event) => event.type === 'response.output_item.added')).toHaveLength(2);
    expect(events.find((event) => event.type === 'response.output_text.done')).toMatchObject({
      text: 'mail [EMAIL] now',
    });
    expect(events.at(-1)?.response).toEqual(responseOf(final, body));
  });

  it('returns the call id of the finished call when no piece of a tool call carries one', async () => {
    const body = request({ input: 'hi', stream: true });
    const writer = writerFor(body);
    const final = call({
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'call_late', type: 'function', function: { name: 'f', arguments: '{}' } }],
    });
    const sse =
      writer.start() +
      writer.delta({ type: 'delta', tool_calls: [{ index: 0, name: 'f', arguments: '{' }] }) +
      writer.delta({ type: 'delta', tool_calls: [{ index: 0, arguments: '}' }] }) +
      writer.finish(final);
    const events = eventsOf(sse);
    // The call is announced only with its id: clients pin call_id at announcement.
    const added = events.find((event) => event.type === 'response.output_item.added');
    expect(added).toMatchObject({ item: { call_id: 'call_late', name: 'f' } });
    const itemDone = events.find((event) => event.type === 'response.output_item.done');
    expect(itemDone).toMatchObject({ item: { call_id: 'call_late', name: 'f', arguments: '{}' } });
    expect(events.at(-1)?.response).toEqual(responseOf(final, body));
    const assembled = await throughOpenAiClient(sse);
    expect(assembled.output[0]).toMatchObject({
      type: 'function_call',
      call_id: 'call_late',
      arguments: '{}',
    });
  });

  it('returns a call announced once a later piece carries its id, with the arguments held until then', async () => {
    const body = request({ input: 'hi', stream: true });
    const writer = writerFor(body);
    const final = call({
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'call_2nd', type: 'function', function: { name: 'f', arguments: '{"q":1}' } }],
    });
    const sse =
      writer.start() +
      writer.delta({ type: 'delta', tool_calls: [{ index: 0, name: 'f', arguments: '{"q"' }] }) +
      writer.delta({ type: 'delta', tool_calls: [{ index: 0, id: 'call_2nd', arguments: ':1}' }] }) +
      writer.finish(final);
    const events = eventsOf(sse);
    expect(events.filter((event) => event.type === 'response.function_call_arguments.delta')).toEqual([
      expect.objectContaining({ delta: '{"q":1}' }),
    ]);
    const assembled = await throughOpenAiClient(sse);
    expect(assembled.output).toMatchObject(responseOf(final, body).output);
  });

  it('returns a refusal part, not empty text, for an answer that is only a refusal', () => {
    const body = request({ input: 'hi', stream: true });
    const writer = writerFor(body);
    const final = call({ role: 'assistant', content: null, refusal: 'I cannot help with that.' });
    const events = eventsOf(writer.start() + writer.finish(final));
    expect(events.map((event) => event.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.refusal.delta',
      'response.refusal.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.find((event) => event.type === 'response.refusal.done')).toMatchObject({
      refusal: 'I cannot help with that.',
    });
    expect(events.some((event) => event.type === 'response.output_text.done')).toBe(false);
    expect(events.at(-1)?.response).toEqual(responseOf(final, body));
  });

  it('returns the items a redacting stream held back, and the redacted text, when the call ends', () => {
    const body = request({ input: 'hi', stream: true });
    const writer = writerFor(body);
    const final = call({
      role: 'assistant',
      content: null,
      tool_calls: [
        { id: 'call_1', type: 'function', function: { name: 'send', arguments: '{"to":"[EMAIL]"}' } },
      ],
    });
    const events = eventsOf(writer.start() + writer.finish(final));
    expect(events.map((event) => event.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events[3]).toMatchObject({ name: 'send', arguments: '{"to":"[EMAIL]"}' });
  });

  it('returns response.incomplete with an incomplete message when the answer is cut at its token limit', () => {
    const body = request({ input: 'hi', stream: true, max_output_tokens: 2 });
    const writer = writerFor(body);
    const final = call({ role: 'assistant', content: 'tok tok' }, 'length');
    const events = eventsOf(
      writer.start() + writer.delta({ type: 'delta', content: 'tok tok' }) + writer.finish(final),
    );
    expect(events.at(-1)).toMatchObject({
      type: 'response.incomplete',
      response: { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } },
    });
    expect(events.at(-1)?.response).toEqual(responseOf(final, body));
  });

  it('returns response.failed then an error event when the stream fails', () => {
    const writer = writerFor(request({ input: 'hi', stream: true }));
    const events = eventsOf(
      writer.start() +
        writer.delta({ type: 'delta', content: 'par' }) +
        writer.fail('dependency_unavailable', 'cut'),
    );
    expect(events.slice(-2)).toEqual([
      expect.objectContaining({
        type: 'response.failed',
        response: expect.objectContaining({ status: 'failed' }),
      }),
      expect.objectContaining({ type: 'error', code: 'dependency_unavailable', message: 'cut', param: null }),
    ]);
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
  });
});
