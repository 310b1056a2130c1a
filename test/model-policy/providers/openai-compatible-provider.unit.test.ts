import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { ToolDefinition } from '../../../functions/shared/contracts/chat.ts';
import type { ProviderRequest } from '../../../functions/model-policy/ports/model-provider-port.ts';
import { OpenAiCompatibleProvider } from '../../../functions/model-policy/providers/openai-compatible-provider.ts';
import { collectStream } from '../../../functions/model-policy/invocation/stream-assembly.ts';
import { estimatePromptTokens } from '../../../functions/model-policy/metering/token-estimate.ts';
import { startFakeOpenAiServer } from '../../fakes/fake-openai-server.ts';
import type { FakeOpenAiServer } from '../../fakes/fake-openai-server.ts';
import { drainStream, providerFailure } from '../../support/provider-calls.ts';

const apiKey = 'sk-fake-adapter-test';

const tools: ToolDefinition[] = [
  {
    type: 'function',
    function: { name: 'lookup', parameters: { type: 'object', properties: { word: { type: 'string' } } } },
  },
];

function request(overrides: Partial<ProviderRequest> = {}): ProviderRequest {
  return {
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Hello' }],
    max_tokens: 100,
    signal: AbortSignal.timeout(30_000),
    ...overrides,
  };
}

/** A fetch answering every call with this SSE text, for upstream quirks the fake does not produce. */
function sseFetch(text: string): typeof fetch {
  return async () => new Response(text, { status: 200, headers: { 'content-type': 'text/event-stream' } });
}

function sse(...events: unknown[]): string {
  return events
    .map((event) => `data: ${typeof event === 'string' ? event : JSON.stringify(event)}\n\n`)
    .join('');
}

function chunk(delta: Record<string, unknown>, finish: string | null = null): Record<string, unknown> {
  return { object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] };
}

describe('OpenAiCompatibleProvider against a fake OpenAI server', () => {
  let fake: FakeOpenAiServer;
  let provider: OpenAiCompatibleProvider;

  beforeAll(async () => {
    fake = await startFakeOpenAiServer({ apiKey });
    provider = new OpenAiCompatibleProvider({ baseUrl: fake.url, apiKey });
  });

  afterAll(async () => {
    await fake.close();
  });

  beforeEach(() => {
    fake.reset();
  });

  it('sends the bearer key, the messages and tools unchanged, and asks streams for usage', async () => {
    const req = request({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'Define cat.' }] },
      ],
      tools,
      tool_choice: 'required',
      temperature: 0.1,
      stop: ['END'],
    });
    await provider.complete(req);
    await drainStream(provider.stream(req));
    const [plain, streamed] = fake.requests;
    expect(plain?.headers.authorization).toBe(`Bearer ${apiKey}`);
    expect(plain?.body).toEqual({
      model: 'gpt-4o-mini',
      messages: req.messages,
      tools,
      tool_choice: 'required',
      max_tokens: 100,
      temperature: 0.1,
      stop: ['END'],
    });
    expect(streamed?.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('forwards seed, user, parallel_tool_calls, store, metadata and response_format as OpenAI takes them', async () => {
    await provider.complete(
      request({
        tools,
        seed: 7,
        user: 'end-user-1',
        parallel_tool_calls: false,
        store: true,
        metadata: { team: 'blue' },
        response_format: { type: 'json_object' },
      }),
    );
    await provider.complete(request({ parallel_tool_calls: true, metadata: { team: 'blue' } }));
    const [withTools, bare] = fake.requests;
    expect(withTools?.body).toMatchObject({
      seed: 7,
      user: 'end-user-1',
      parallel_tool_calls: false,
      store: true,
      metadata: { team: 'blue' },
      response_format: { type: 'json_object' },
    });
    // OpenAI answers 400 to parallel_tool_calls without tools and to metadata on an unstored completion.
    expect(bare?.body.parallel_tool_calls).toBeUndefined();
    expect(bare?.body.metadata).toBeUndefined();
  });

  it('sends no authorization header when no key is configured, and max_completion_tokens when told', async () => {
    const open = await startFakeOpenAiServer();
    try {
      const keyless = new OpenAiCompatibleProvider({
        baseUrl: `${open.url}/`,
        kind: 'vllm',
        maxTokensField: 'max_completion_tokens',
      });
      const result = await keyless.complete(request({ max_tokens: 7 }));
      expect(result.message.content).toBe('echo: Hello');
      expect(open.requests[0]?.headers.authorization).toBeUndefined();
      expect(open.requests[0]?.body.max_completion_tokens).toBe(7);
      expect(open.requests[0]?.body.max_tokens).toBeUndefined();
    } finally {
      await open.close();
    }
  });

  it('throws auth, which allows fallback, when the backend refuses the key', async () => {
    const wrongKey = new OpenAiCompatibleProvider({ baseUrl: fake.url, apiKey: 'sk-wrong' });
    const error = await providerFailure(wrongKey.complete(request()));
    expect(error).toMatchObject({ kind: 'auth', status: 401, fallbackEligible: true });
    expect(error.message).toContain('Incorrect API key provided');
    expect(error.message).not.toContain('sk-wrong');
  });

  it('assembles streamed tool calls from indexed deltas carrying id and name once', async () => {
    fake.enqueue({
      kind: 'tool_calls',
      calls: [
        { name: 'lookup', arguments: { word: 'a rather long word to look up' } },
        { name: 'lookup', arguments: { word: 'dog' } },
      ],
    });
    const chunks = await drainStream(provider.stream(request({ tools })));
    const deltas = chunks.flatMap((part) => (part.type === 'delta' ? (part.tool_calls ?? []) : []));
    expect(deltas.filter((delta) => delta.id !== undefined).map((delta) => [delta.index, delta.id])).toEqual([
      [0, 'call_fake1_0'],
      [1, 'call_fake1_1'],
    ]);
    const result = await collectStream(
      (async function* () {
        yield* chunks;
      })(),
    );
    expect(result.message.tool_calls?.map((call) => call.function.arguments)).toEqual([
      '{"word":"a rather long word to look up"}',
      '{"word":"dog"}',
    ]);
    expect(result.message.content).toBeNull();
    expect(result.usage).toEqual(fake.requests[0]?.usage);
  });

  it('throws server_error on an error reported inside the stream', async () => {
    fake.enqueue({ kind: 'stream_error', afterChunks: 2, message: 'engine died' });
    const error = await providerFailure(drainStream(provider.stream(request())));
    expect(error.kind).toBe('server_error');
    expect(error.message).toContain('engine died');
  });

  it('throws connection when the backend drops the connection or nothing listens', async () => {
    fake.enqueue({ kind: 'drop' });
    expect((await providerFailure(provider.complete(request()))).kind).toBe('connection');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const nowhere = new OpenAiCompatibleProvider({ baseUrl: `http://127.0.0.1:${port}/v1` });
    expect((await providerFailure(nowhere.complete(request()))).kind).toBe('connection');
  });

  it('throws connection when a JSON answer is cut half-way', async () => {
    fake.enqueue({ kind: 'cut' });
    expect((await providerFailure(provider.complete(request()))).kind).toBe('connection');
  });
});

describe('OpenAiCompatibleProvider with unusual upstreams', () => {
  it('sends id and name once even when the server repeats them on every delta', async () => {
    const repeating = sse(
      chunk({
        role: 'assistant',
        tool_calls: [
          { index: 0, id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{"wo' } },
        ],
      }),
      chunk({
        tool_calls: [
          { index: 0, id: 'c1', type: 'function', function: { name: 'lookup', arguments: 'rd":"x"}' } },
        ],
      }),
      chunk({}, 'tool_calls'),
      { choices: [], usage: { prompt_tokens: 9, completion_tokens: 4 } },
      '[DONE]',
    );
    const provider = new OpenAiCompatibleProvider({
      baseUrl: 'http://vllm.invalid/v1',
      fetch: sseFetch(repeating),
    });
    const result = await collectStream(provider.stream(request()));
    expect(result.message.tool_calls).toEqual([
      { id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{"word":"x"}' } },
    ]);
    expect(result.usage).toEqual({ prompt_tokens: 9, completion_tokens: 4 });
  });

  it('meters an upper bound when the server reports no usage', async () => {
    const noUsage = sse(chunk({ content: 'héllo there' }), chunk({}, 'stop'), '[DONE]');
    const provider = new OpenAiCompatibleProvider({
      baseUrl: 'http://ollama.invalid/v1',
      fetch: sseFetch(noUsage),
    });
    const req = request({ max_tokens: 100 });
    const result = await collectStream(provider.stream(req));
    expect(result.usage).toEqual({
      prompt_tokens: estimatePromptTokens(req.messages),
      completion_tokens: 12,
    });
    const capped = await collectStream(provider.stream(request({ max_tokens: 3 })));
    expect(capped.usage.completion_tokens).toBe(3);
  });

  it('throws stream_cut when [DONE] comes without a finish reason', async () => {
    const provider = new OpenAiCompatibleProvider({
      baseUrl: 'http://x.invalid/v1',
      fetch: sseFetch(sse(chunk({ content: 'half' }), '[DONE]')),
    });
    expect((await providerFailure(drainStream(provider.stream(request())))).kind).toBe('stream_cut');
  });

  it('finishes without [DONE] once the finish reason and usage have arrived', async () => {
    const provider = new OpenAiCompatibleProvider({
      baseUrl: 'http://x.invalid/v1',
      fetch: sseFetch(
        sse(chunk({ content: 'ok' }, 'stop'), {
          choices: [],
          usage: { prompt_tokens: 1, completion_tokens: 1 },
        }),
      ),
    });
    const result = await collectStream(provider.stream(request()));
    expect(result).toMatchObject({ message: { content: 'ok' }, finish_reason: 'stop' });
  });

  it('throws server_error when the answer does not have the chat-completion shape', async () => {
    const provider = new OpenAiCompatibleProvider({
      baseUrl: 'http://x.invalid/v1',
      fetch: async () => Response.json({ choices: [{ message: { content: 42 } }] }),
    });
    expect((await providerFailure(provider.complete(request()))).kind).toBe('server_error');
    const garbled = new OpenAiCompatibleProvider({
      baseUrl: 'http://x.invalid/v1',
      fetch: sseFetch('data: {"choi\n\n'),
    });
    expect((await providerFailure(drainStream(garbled.stream(request())))).kind).toBe('server_error');
  });
});
