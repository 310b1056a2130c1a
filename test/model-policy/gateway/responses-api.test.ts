import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpFront } from '../../../cli/local/lambda-http-front.ts';
import { scriptPrompt, serveModelPolicy } from '../../support/model-policy-front.ts';

/**
 * OpenAI's Responses API (`POST /v1/responses`) against a local node, through the official `openai`
 * client and over plain HTTP: answers, function tool round trips, structured output, typed stream
 * events, idempotent replays, and what a stateless gateway refuses by name.
 */

let front: HttpFront;
let token: string;
let client: OpenAI;

beforeAll(async () => {
  const served = await serveModelPolicy('resp');
  front = served.front;
  const { auth } = served;
  token = await auth.token('acme');
  client = new OpenAI({ baseURL: `${front.url}/v1`, apiKey: token, maxRetries: 0 });
});

afterAll(async () => {
  await front.close();
});

const lookupTool: OpenAI.Responses.FunctionTool = {
  type: 'function',
  name: 'lookup',
  description: 'Looks a word up.',
  parameters: {
    type: 'object',
    properties: { q: { type: 'string' } },
    required: ['q'],
    additionalProperties: false,
  },
  strict: true,
};

async function post(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${front.url}/v1/responses`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

type Totals = { calls: number; prompt_tokens: number; completion_tokens: number };

async function usageToday(): Promise<Totals> {
  const reply = await fetch(`${front.url}/v1/usage?window=day`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return ((await reply.json()) as { totals: Totals }).totals;
}

describe('the official openai client, responses.create', () => {
  it('returns a response with an output_text message, usage and the route taken', async () => {
    const { data, response } = await client.responses
      .create({ model: 'local/echo', input: 'hello there' })
      .withResponse();
    expect(data.id).toMatch(/^resp_/);
    expect(data.object).toBe('response');
    expect(data.status).toBe('completed');
    expect(data.model).toBe('local/echo');
    expect(data.output_text).toBe('echo: hello there');
    expect(data.output).toEqual([
      expect.objectContaining({
        type: 'message',
        role: 'assistant',
        content: [expect.objectContaining({ type: 'output_text', text: 'echo: hello there' })],
      }),
    ]);
    // 17 bytes of text: ceil(17 / 4) = 5 tokens by the metering convention.
    expect(data.usage?.output_tokens).toBe(5);
    expect(data.usage?.total_tokens).toBe((data.usage?.input_tokens ?? 0) + 5);
    expect((data as unknown as { store: boolean }).store).toBe(false);
    expect(JSON.parse(response.headers.get('x-agentos-route') ?? '{}')).toMatchObject({
      provider: 'local',
    });
    expect(response.headers.get('x-request-id')).toMatch(/^req_/);
  });

  it('returns an answer that follows the instructions and input messages', async () => {
    const data = await client.responses.create({
      model: 'local/scripted',
      instructions: scriptPrompt({ reply: 'as instructed' }),
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'go' }] }],
      temperature: 0.2,
      top_p: 0.9,
      max_output_tokens: 64,
      metadata: { team: 'blue' },
      user: 'end-user-1',
      parallel_tool_calls: false,
      store: false,
    });
    expect(data.output_text).toBe('as instructed');
    expect(data.instructions).toContain('agentos-script');
    expect(data.metadata).toEqual({ team: 'blue' });
    expect(data.max_output_tokens).toBe(64);
  });

  it('returns a function call, then the answer to its function_call_output', async () => {
    const instructions = scriptPrompt(
      { tool_calls: [{ name: 'lookup', arguments: { q: 'x' } }] },
      { reply: 'found x' },
    );
    const first = await client.responses.create({
      model: 'local/scripted',
      instructions,
      input: 'find x',
      tools: [lookupTool],
      tool_choice: 'auto',
    });
    const call = first.output.find((item) => item.type === 'function_call');
    expect(call).toMatchObject({ type: 'function_call', name: 'lookup', arguments: '{"q":"x"}' });
    expect(call?.call_id).toBeTruthy();
    const second = await client.responses.create({
      model: 'local/scripted',
      instructions,
      tools: [lookupTool],
      input: [
        { role: 'user', content: 'find x' },
        ...(first.output as OpenAI.Responses.ResponseInputItem[]),
        { type: 'function_call_output', call_id: call!.call_id, output: '{"definition":"a letter"}' },
      ],
    });
    expect(second.output_text).toBe('found x');
  });

  it('returns JSON matching a strict text.format json_schema', async () => {
    const data = await client.responses.create({
      model: 'local/echo',
      input: 'a city',
      text: {
        format: {
          type: 'json_schema',
          name: 'city',
          strict: true,
          schema: {
            type: 'object',
            properties: { name: { type: 'string' }, population: { type: 'integer' } },
            required: ['name', 'population'],
            additionalProperties: false,
          },
        },
      },
    });
    const value = JSON.parse(data.output_text) as Record<string, unknown>;
    expect(typeof value.name).toBe('string');
    expect(Number.isInteger(value.population)).toBe(true);
    expect(data.text?.format).toMatchObject({ type: 'json_schema', name: 'city' });
  });

  it('returns a JSON object for text.format json_object, and an image part is taken by a vision model', async () => {
    const data = await client.responses.create({
      model: 'local/echo',
      input: [
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'describe' },
            { type: 'input_image', image_url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' },
          ],
        },
      ],
      text: { format: { type: 'json_object' } },
    });
    expect(JSON.parse(data.output_text)).toEqual({ echo: 'describe' });
  });

  it('streams typed events in order, each with a sequence number one higher than the last', async () => {
    const stream = await client.responses.create({
      model: 'local/echo',
      input: 'one two three',
      stream: true,
    });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
    const types = events.map((event) => event.type);
    const deltas = types.filter((type) => type === 'response.output_text.delta').length;
    expect(deltas).toBeGreaterThan(1);
    expect(types).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      ...Array<string>(deltas).fill('response.output_text.delta'),
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const text = events.flatMap((event) =>
      event.type === 'response.output_text.delta' ? [event.delta] : [],
    );
    expect(text.join('')).toBe('echo: one two three');
    const completed = events.at(-1);
    expect(completed?.type === 'response.completed' && completed.response.output).toEqual([
      expect.objectContaining({
        type: 'message',
        content: [expect.objectContaining({ type: 'output_text', text: 'echo: one two three' })],
      }),
    ]);
    expect(completed?.type === 'response.completed' && completed.response.usage?.output_tokens).toBe(5);
  });

  it('streams a function call as argument deltas and its done events', async () => {
    const stream = await client.responses.create({
      model: 'local/scripted',
      instructions: scriptPrompt({ tool_calls: [{ name: 'lookup', arguments: { q: 'a longer query' } }] }),
      input: 'find it',
      tools: [lookupTool],
      stream: true,
    });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
    const argumentDeltas = events.flatMap((event) =>
      event.type === 'response.function_call_arguments.delta' ? [event.delta] : [],
    );
    expect(argumentDeltas.length).toBeGreaterThan(1);
    expect(argumentDeltas.join('')).toBe('{"q":"a longer query"}');
    const done = events.find((event) => event.type === 'response.function_call_arguments.done');
    expect(done).toMatchObject({ name: 'lookup', arguments: '{"q":"a longer query"}' });
    const completed = events.at(-1);
    expect(completed?.type).toBe('response.completed');
    expect(completed?.type === 'response.completed' && completed.response.output).toEqual([
      expect.objectContaining({ type: 'function_call', name: 'lookup', arguments: '{"q":"a longer query"}' }),
    ]);
  });

  it('streams response.failed and an error the client raises when the backend fails mid-stream', async () => {
    const stream = await client.responses.create({
      model: 'local/scripted',
      instructions: scriptPrompt({ error: 'stream_cut' }),
      input: 'go',
      stream: true,
    });
    const types: string[] = [];
    const failure = await (async () => {
      for await (const event of stream) types.push(event.type);
    })().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect(types.at(-1)).toBe('response.failed');
  });

  it('returns status incomplete when the answer is cut at max_output_tokens', async () => {
    const data = await client.responses.create({
      model: 'local/scripted',
      instructions: scriptPrompt({ fill: true }),
      input: 'go',
      max_output_tokens: 16,
    });
    expect(data.status).toBe('incomplete');
    expect(data.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(data.usage?.output_tokens).toBe(16);
  });
});

describe('POST /v1/responses over HTTP', () => {
  it('returns usage metered as for any model call: one call, its tokens, in the tenant’s day', async () => {
    const before = await usageToday();
    const reply = await post({ model: 'local/echo', input: 'metered' });
    const { usage } = (await reply.json()) as { usage: { input_tokens: number; output_tokens: number } };
    const after = await usageToday();
    expect(after.calls - before.calls).toBe(1);
    expect(after.prompt_tokens - before.prompt_tokens).toBe(usage.input_tokens);
    expect(after.completion_tokens - before.completion_tokens).toBe(usage.output_tokens);
  });

  it('returns the same response for a retry with the same X-Request-Id, marked replayed', async () => {
    const headers = { 'x-request-id': `resp-replay-${Date.now()}` };
    const body = { model: 'local/echo', input: 'once' };
    const first = await post(body, headers);
    const again = await post(body, headers);
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(again.headers.get('x-agentos-replayed')).toBe('true');
    expect(((await again.json()) as { id: string }).id).toBe(((await first.json()) as { id: string }).id);
  });

  it('returns the same response for a streamed retry with the same X-Request-Id', async () => {
    const headers = { 'x-request-id': `resp-stream-replay-${Date.now()}` };
    const body = { model: 'local/echo', input: 'twice', stream: true };
    const first = await (await post(body, headers)).text();
    const again = await post(body, headers);
    expect(again.headers.get('x-agentos-replayed')).toBe('true');
    const completedOf = (text: string): unknown =>
      text
        .split('\n')
        .filter((line) => line.startsWith('data: '))
        .map((line) => JSON.parse(line.slice(6)) as { type: string; response?: unknown })
        .find((event) => event.type === 'response.completed')?.response;
    const replayed = completedOf(await again.text());
    expect(replayed).toMatchObject({ status: 'completed', output: [{ type: 'message' }] });
    expect(replayed).toEqual(completedOf(first));
  });

  it.each([
    ['store', { store: true }],
    ['previous_response_id', { previous_response_id: 'resp_earlier' }],
  ])('throws when %s asks for stored state: 400 invalid_request naming it', async (field, extra) => {
    const reply = await post({ model: 'local/echo', input: 'hi', ...extra });
    expect(reply.status).toBe(400);
    const { error } = (await reply.json()) as { error: { code: string; message: string; details: unknown } };
    expect(error.code).toBe('invalid_request');
    expect(error.message).toContain(field);
    expect(error.details).toEqual({ fields: [expect.objectContaining({ field })] });
  });

  it('throws when an input item references a stored item: 400 naming item_reference', async () => {
    const reply = await post({
      model: 'local/echo',
      input: [
        { role: 'user', content: 'hi' },
        { type: 'item_reference', id: 'msg_1' },
      ],
    });
    expect(reply.status).toBe(400);
    const { error } = (await reply.json()) as { error: { message: string } };
    expect(error.message).toContain('item_reference');
  });

  it('throws when a built-in tool is requested: 400 naming it', async () => {
    const reply = await post({ model: 'local/echo', input: 'hi', tools: [{ type: 'web_search' }] });
    expect(reply.status).toBe(400);
    const { error } = (await reply.json()) as { error: { message: string; details: unknown } };
    expect(error.message).toContain("'web_search'");
    expect(error.details).toEqual({ fields: [expect.objectContaining({ field: 'tools[0].type' })] });
  });

  it('throws when the text.format schema is not a valid JSON Schema: 400 naming text.format.schema', async () => {
    const reply = await post({
      model: 'local/echo',
      input: 'hi',
      text: { format: { type: 'json_schema', name: 'bad', schema: { type: 'no-such-type' } } },
    });
    expect(reply.status).toBe(400);
    const { error } = (await reply.json()) as { error: { details: unknown } };
    expect(error.details).toEqual({ fields: [expect.objectContaining({ field: 'text.format.schema' })] });
  });

  it('throws when the model answers JSON that does not match text.format: 503 output_invalid', async () => {
    const reply = await post({
      model: 'local/scripted',
      instructions: scriptPrompt({ reply: '{"name": 1}' }),
      input: 'a city',
      text: {
        format: {
          type: 'json_schema',
          name: 'city',
          schema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
        },
      },
    });
    expect(reply.status).toBe(503);
    const { error } = (await reply.json()) as { error: { code: string; details: unknown } };
    expect(JSON.stringify(error)).toContain('output_invalid');
  });

  it('returns an answer to input with reasoning items, which are dropped', async () => {
    const reply = await post({
      model: 'local/echo',
      input: [
        { type: 'reasoning', id: 'rs_1', summary: [] },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'after thought' }] },
      ],
    });
    expect(reply.status).toBe(200);
    const body = (await reply.json()) as { output: { content: { text: string }[] }[] };
    expect(body.output[0]?.content[0]?.text).toBe('echo: after thought');
  });

  it('throws when the model is unknown: 404 with x-should-retry false', async () => {
    const reply = await post({ model: 'local/nope', input: 'hi' });
    expect(reply.status).toBe(404);
    expect(reply.headers.get('x-should-retry')).toBe('false');
  });
});
