import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpFront } from '../../../cli/local/lambda-http-front.ts';
import { serveModelPolicy } from '../../support/model-policy-front.ts';
import { script } from '../support/gateway-harness.ts';
import { defaultModelCatalog } from '../../../functions/model-policy/composition/default-catalog.ts';
import { startFakeOpenAiServer } from '../../fakes/fake-openai-server.ts';
import type { FakeOpenAiServer } from '../../fakes/fake-openai-server.ts';

/**
 * What the official `openai` client sends beyond plain text, against a local node: every field it
 * may send is honoured or refused with a 400 naming it, streamed or not.
 */

let front: HttpFront;
let client: OpenAI;
let upstream: FakeOpenAiServer;

/** The default local models, and a vision model behind a fake OpenAI-compatible server. */
function catalogWith(upstreamUrl: string): unknown {
  const [prices] = defaultModelCatalog.price_tables;
  return {
    ...defaultModelCatalog,
    backends: { ...defaultModelCatalog.backends, fake: { kind: 'openai', base_url: upstreamUrl } },
    models: {
      ...defaultModelCatalog.models,
      'openai/vision': { backend: 'fake', model: 'gpt-4o', vision: true },
    },
    price_tables: [
      {
        ...prices!,
        prices: { ...prices!.prices, 'openai/vision': { input_usd_per_mtok: 0, output_usd_per_mtok: 0 } },
      },
    ],
  };
}

beforeAll(async () => {
  upstream = await startFakeOpenAiServer();
  const served = await serveModelPolicy('oaicompat', {
    AGENTOS_MODEL_CATALOG: JSON.stringify(catalogWith(upstream.url)),
  });
  front = served.front;
  const { auth } = served;
  client = new OpenAI({ baseURL: `${front.url}/v1`, apiKey: await auth.token('acme'), maxRetries: 0 });
});

afterAll(async () => {
  await front.close();
  await upstream.close();
});

const tools: OpenAI.ChatCompletionTool[] = [
  {
    type: 'function',
    function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } },
  },
];

/** The text of a stream, read to its end. */
async function streamedText(stream: AsyncIterable<OpenAI.ChatCompletionChunk>): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
  return text;
}

describe.each([false, true])('the official openai client, stream %s', (stream) => {
  it('returns an answer to a request carrying metadata, store, seed, user and parallel_tool_calls', async () => {
    const body = {
      model: 'local/echo',
      messages: [{ role: 'user' as const, content: 'options' }],
      tools,
      metadata: { team: 'blue' },
      store: false,
      seed: 42,
      user: 'end-user-1',
      parallel_tool_calls: false,
    };
    const text = stream
      ? await streamedText(await client.chat.completions.create({ ...body, stream: true }))
      : (await client.chat.completions.create(body)).choices[0]?.message.content;
    expect(text).toBe('echo: options');
  });

  it('returns an answer to a conversation echoing a response message with tool calls and no content', async () => {
    const turns = script({ tool_calls: [{ name: 'lookup', arguments: { q: 'x' } }] }, { reply: 'found it' });
    const echoed = {
      role: 'assistant' as const,
      content: null,
      refusal: null,
      annotations: [],
      audio: null,
      function_call: null,
      tool_calls: [
        { id: 'call_1', type: 'function' as const, function: { name: 'lookup', arguments: '{}' } },
      ],
    };
    const withoutContent = {
      role: 'assistant' as const,
      tool_calls: [
        { id: 'call_2', type: 'function' as const, function: { name: 'lookup', arguments: '{}' } },
      ],
    };
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      turns,
      { role: 'user', content: 'find x' },
      echoed as OpenAI.ChatCompletionMessageParam,
      { role: 'tool', tool_call_id: 'call_1', content: 'x is here' },
      withoutContent,
      { role: 'tool', tool_call_id: 'call_2', content: 'x is here too' },
    ];
    // The scripted model plays the turn after the assistant messages it holds: past the last, `done`.
    const text = stream
      ? await streamedText(
          await client.chat.completions.create({ model: 'local/scripted', messages, tools, stream: true }),
        )
      : (await client.chat.completions.create({ model: 'local/scripted', messages, tools })).choices[0]
          ?.message.content;
    expect(text).toBe('done');
  });

  it('returns the next answer when the previous answer message is sent back as it came', async () => {
    const turns = script({ tool_calls: [{ name: 'lookup', arguments: { q: 'y' } }] }, { reply: 'It is y.' });
    const first = await client.chat.completions.create({
      model: 'local/scripted',
      messages: [turns, { role: 'user', content: 'y?' }],
      tools,
    });
    const message = first.choices[0]!.message;
    const call = message.tool_calls![0]!;
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      turns,
      { role: 'user', content: 'y?' },
      message,
      { role: 'tool', tool_call_id: call.id, content: 'y' },
    ];
    const text = stream
      ? await streamedText(
          await client.chat.completions.create({ model: 'local/scripted', messages, tools, stream: true }),
        )
      : (await client.chat.completions.create({ model: 'local/scripted', messages, tools })).choices[0]
          ?.message.content;
    expect(text).toBe('It is y.');
  });

  it('throws a 400 naming audio when an echoed message carries audio output', async () => {
    const error = await client.chat.completions
      .create({
        model: 'local/echo',
        messages: [
          { role: 'user', content: 'a' },
          { role: 'assistant', content: 'b', audio: { id: 'audio_1' } },
          { role: 'user', content: 'c' },
        ],
        ...(stream ? { stream: true as const } : {}),
      })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.APIError>).message).toContain('audio');
  });
});

const Weather = z.object({ city: z.string(), celsius: z.number().int(), tags: z.array(z.string()) });

describe('structured output through the official openai client', () => {
  it('returns a parsed answer matching a zod response_format', async () => {
    const completion = await client.chat.completions.parse({
      model: 'local/echo',
      messages: [{ role: 'user', content: 'weather in Oslo' }],
      response_format: zodResponseFormat(Weather, 'weather'),
    });
    expect(completion.choices[0]?.message.parsed).toEqual({ city: '', celsius: 0, tags: [] });
  });

  it('returns a scripted answer that matches the schema, streamed', async () => {
    const reply = JSON.stringify({ city: 'Oslo', celsius: 4, tags: ['cold'] });
    const stream = client.chat.completions.stream({
      model: 'local/scripted',
      messages: [script({ reply }), { role: 'user', content: 'weather in Oslo' }],
      response_format: zodResponseFormat(Weather, 'weather'),
    });
    const completion = await stream.finalChatCompletion();
    expect(completion.choices[0]?.message.parsed).toEqual({ city: 'Oslo', celsius: 4, tags: ['cold'] });
  });

  it.each([false, true])('returns a JSON object for json_object, stream %s', async (stream) => {
    const body = {
      model: 'local/echo',
      messages: [{ role: 'user' as const, content: 'as json' }],
      response_format: { type: 'json_object' as const },
    };
    const text = stream
      ? await streamedText(await client.chat.completions.create({ ...body, stream: true }))
      : (await client.chat.completions.create(body)).choices[0]?.message.content;
    expect(JSON.parse(text ?? '')).toEqual({ echo: 'as json' });
  });

  it('throws a 503 with reason output_invalid when the answer does not match the schema', async () => {
    const error = await client.chat.completions
      .create({
        model: 'local/scripted',
        messages: [script({ reply: '{"city": 7}' }), { role: 'user', content: 'weather' }],
        response_format: zodResponseFormat(Weather, 'weather'),
      })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    const apiError = error as InstanceType<typeof OpenAI.APIError>;
    expect(apiError.code).toBe('dependency_unavailable');
    expect(apiError.message).toContain('response_format');
  });

  it('ends the stream with an error event when the streamed answer does not match the schema', async () => {
    const stream = await client.chat.completions.create({
      model: 'local/scripted',
      messages: [script({ reply: 'not json at all' }), { role: 'user', content: 'weather' }],
      response_format: { type: 'json_object' },
      stream: true,
    });
    const error = await streamedText(stream).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as Error).message).toContain('response_format');
  });

  it('throws a 400 naming the schema when it is nested too deeply', async () => {
    let schema: Record<string, unknown> = { type: 'string' };
    for (let level = 0; level < 40; level += 1) schema = { type: 'array', items: schema };
    const error = await client.chat.completions
      .create({
        model: 'local/echo',
        messages: [{ role: 'user', content: 'deep' }],
        response_format: { type: 'json_schema', json_schema: { name: 'deep', schema } },
      })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as Error).message).toContain('nested too deeply');
  });
});

/** A 1×1 transparent PNG. */
const pixel =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

describe.each([false, true])('image parts through the official openai client, stream %s', (stream) => {
  const imageMessage: OpenAI.ChatCompletionMessageParam = {
    role: 'user',
    content: [
      { type: 'text', text: 'what is this?' },
      { type: 'image_url', image_url: { url: pixel, detail: 'low' } },
    ],
  };

  it('returns an answer for an image on a vision model', async () => {
    const text = stream
      ? await streamedText(
          await client.chat.completions.create({
            model: 'local/echo',
            messages: [imageMessage],
            stream: true,
          }),
        )
      : (await client.chat.completions.create({ model: 'local/echo', messages: [imageMessage] })).choices[0]
          ?.message.content;
    expect(text).toBe('echo: what is this?');
  });

  it('throws a 400 naming the model when it has no vision', async () => {
    const error = await client.chat.completions
      .create({
        model: 'local/scripted',
        messages: [imageMessage],
        ...(stream ? { stream: true as const } : {}),
      })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as Error).message).toContain("'local/scripted' does not take image input");
  });
});

describe('an OpenAI-compatible backend behind the gateway', () => {
  it('returns the backend answer parsed, having sent it response_format as given', async () => {
    upstream.reset();
    upstream.enqueue({ kind: 'reply', text: '{"city":"Oslo","celsius":4,"tags":[]}' });
    const completion = await client.chat.completions.parse({
      model: 'openai/vision',
      messages: [{ role: 'user', content: 'weather in Oslo' }],
      response_format: zodResponseFormat(Weather, 'weather'),
    });
    expect(completion.choices[0]?.message.parsed).toEqual({ city: 'Oslo', celsius: 4, tags: [] });
    expect(upstream.requests[0]?.body['response_format']).toMatchObject({
      type: 'json_schema',
      json_schema: { name: 'weather', strict: true },
    });
  });

  it('throws a 503 naming response_format when the backend answer does not match the schema', async () => {
    upstream.reset({ kind: 'reply', text: '{"city":"Oslo"}' });
    const error = await client.chat.completions
      .create({
        model: 'openai/vision',
        messages: [{ role: 'user', content: 'weather' }],
        response_format: zodResponseFormat(Weather, 'weather'),
      })
      .catch((caught: unknown) => caught);
    upstream.reset();
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect((error as Error).message).toContain('response_format');
  });

  it('sends an https: image part to the backend unchanged', async () => {
    upstream.reset();
    const content: OpenAI.ChatCompletionContentPart[] = [
      { type: 'text', text: 'describe' },
      { type: 'image_url', image_url: { url: 'https://images.example/cat.png', detail: 'high' } },
    ];
    const answer = await client.chat.completions.create({
      model: 'openai/vision',
      messages: [{ role: 'user', content }],
    });
    expect(answer.choices[0]?.message.content).toBeTypeOf('string');
    expect(upstream.requests[0]?.body.messages[0]?.content).toEqual(content);
  });
});
