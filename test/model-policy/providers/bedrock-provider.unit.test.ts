import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { ChatMessage, ToolDefinition } from '../../../functions/shared/contracts/chat.ts';
import { BedrockProvider } from '../../../functions/model-policy/providers/bedrock-provider.ts';
import { converseInput, finishReasonOf } from '../../../functions/model-policy/providers/bedrock-mapping.ts';
import { ProviderError } from '../../../functions/model-policy/ports/model-provider-port.ts';
import type {
  ProviderRequest,
  ProviderStreamChunk,
} from '../../../functions/model-policy/ports/model-provider-port.ts';
import { collectStream } from '../../../functions/model-policy/invocation/stream-assembly.ts';
import { startFakeBedrockServer } from '../../fakes/fake-bedrock-server.ts';
import type { FakeBedrockServer } from '../../fakes/fake-bedrock-server.ts';
import { drainStream, providerFailure } from '../../support/provider-calls.ts';

const model = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const credentials = { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake-secret' };

const tools: ToolDefinition[] = [
  {
    type: 'function',
    function: {
      name: 'lookup',
      description: 'Looks a word up',
      parameters: { type: 'object', properties: { word: { type: 'string' } } },
    },
  },
  { type: 'function', function: { name: 'now' } },
];

/** Two parallel tool calls answered by two tool results, then a follow-up from the user. */
const parallelToolRound: ChatMessage[] = [
  { role: 'system', content: 'Be brief.' },
  { role: 'developer', content: [{ type: 'text', text: 'Prefer tools.' }] },
  { role: 'user', content: 'Define cat and give the time.' },
  {
    role: 'assistant',
    content: 'Let me check.',
    tool_calls: [
      { id: 'tu_1', type: 'function', function: { name: 'lookup', arguments: '{"word":"cat"}' } },
      { id: 'tu_2', type: 'function', function: { name: 'now', arguments: '' } },
    ],
  },
  { role: 'tool', tool_call_id: 'tu_1', content: 'a small feline' },
  { role: 'tool', tool_call_id: 'tu_2', content: [{ type: 'text', text: '12:00' }] },
  { role: 'user', content: 'Thanks, and summarise.' },
];

function request(overrides: Partial<ProviderRequest> = {}): ProviderRequest {
  return {
    model,
    messages: [{ role: 'user', content: 'Hello' }],
    max_tokens: 200,
    signal: AbortSignal.timeout(30_000),
    ...overrides,
  };
}

describe('converseInput', () => {
  it('moves system and developer messages to system blocks and merges adjacent roles so they alternate', () => {
    const input = converseInput(request({ messages: parallelToolRound, tools }));
    expect(input.system).toEqual([{ text: 'Be brief.' }, { text: 'Prefer tools.' }]);
    expect(input.messages).toEqual([
      { role: 'user', content: [{ text: 'Define cat and give the time.' }] },
      {
        role: 'assistant',
        content: [
          { text: 'Let me check.' },
          { toolUse: { toolUseId: 'tu_1', name: 'lookup', input: { word: 'cat' } } },
          { toolUse: { toolUseId: 'tu_2', name: 'now', input: {} } },
        ],
      },
      {
        role: 'user',
        content: [
          { toolResult: { toolUseId: 'tu_1', content: [{ text: 'a small feline' }] } },
          { toolResult: { toolUseId: 'tu_2', content: [{ text: '12:00' }] } },
          { text: 'Thanks, and summarise.' },
        ],
      },
    ]);
  });

  it('merges consecutive user messages and drops empty assistant text', () => {
    const input = converseInput(
      request({
        messages: [
          { role: 'user', content: 'one' },
          { role: 'user', content: 'two' },
          {
            role: 'assistant',
            content: '',
            tool_calls: [{ id: 't', type: 'function', function: { name: 'now', arguments: '{}' } }],
          },
        ],
        tools,
      }),
    );
    expect(input.messages).toEqual([
      { role: 'user', content: [{ text: 'one' }, { text: 'two' }] },
      { role: 'assistant', content: [{ toolUse: { toolUseId: 't', name: 'now', input: {} } }] },
    ]);
  });

  it('maps tools, tool choice and inference settings', () => {
    const input = converseInput(
      request({
        tools,
        tool_choice: { type: 'function', function: { name: 'lookup' } },
        max_tokens: 64,
        temperature: 0.2,
        top_p: 0.9,
        stop: ['END'],
      }),
    );
    expect(input.inferenceConfig).toEqual({
      maxTokens: 64,
      temperature: 0.2,
      topP: 0.9,
      stopSequences: ['END'],
    });
    expect(input.toolConfig).toEqual({
      tools: [
        {
          toolSpec: {
            name: 'lookup',
            description: 'Looks a word up',
            inputSchema: { json: { type: 'object', properties: { word: { type: 'string' } } } },
          },
        },
        { toolSpec: { name: 'now', inputSchema: { json: { type: 'object', properties: {} } } } },
      ],
      toolChoice: { tool: { name: 'lookup' } },
    });
    expect(converseInput(request({ tools, tool_choice: 'required' })).toolConfig?.toolChoice).toEqual({
      any: {},
    });
    expect(converseInput(request({ tools, tool_choice: 'auto' })).toolConfig?.toolChoice).toEqual({
      auto: {},
    });
    expect(converseInput(request({ tools })).toolConfig?.toolChoice).toBeUndefined();
  });

  it('leaves tools out for tool_choice none unless the conversation already holds tool blocks', () => {
    expect(converseInput(request({ tools, tool_choice: 'none' })).toolConfig).toBeUndefined();
    const withHistory = converseInput(request({ messages: parallelToolRound, tools, tool_choice: 'none' }));
    expect(withHistory.toolConfig?.tools).toHaveLength(2);
    expect(withHistory.toolConfig?.toolChoice).toBeUndefined();
  });

  it('maps a data: URL image part to an image block with its bytes', () => {
    const input = converseInput(
      request({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'what is this?' },
              { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,AAEC' } },
            ],
          },
        ],
      }),
    );
    expect(input.messages?.[0]?.content).toEqual([
      { text: 'what is this?' },
      { image: { format: 'jpeg', source: { bytes: Buffer.from([0, 1, 2]) } } },
    ]);
  });

  it('throws invalid_request for an https: image URL, which is never fetched', () => {
    const call = (): unknown =>
      converseInput(
        request({
          messages: [
            { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x.test/a.png' } }] },
          ],
        }),
      );
    expect(call).toThrow(/never|not fetched/);
  });

  it('throws invalid_request when tool call arguments are not a JSON object', () => {
    const messages = (args: string): ChatMessage[] => [
      { role: 'user', content: 'hi' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'x', type: 'function', function: { name: 'now', arguments: args } }],
      },
    ];
    for (const args of ['{not json', '[1,2]']) {
      let thrown: unknown;
      try {
        converseInput(request({ messages: messages(args), tools }));
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ProviderError);
      expect((thrown as ProviderError).kind).toBe('invalid_request');
    }
  });

  it('maps every stop reason to a finish reason', () => {
    expect(
      [
        'end_turn',
        'stop_sequence',
        'tool_use',
        'max_tokens',
        'model_context_window_exceeded',
        'guardrail_intervened',
        'content_filtered',
      ].map(finishReasonOf),
    ).toEqual(['stop', 'stop', 'tool_calls', 'length', 'length', 'content_filter', 'content_filter']);
  });
});

describe('BedrockProvider against a fake Bedrock Runtime', () => {
  let fake: FakeBedrockServer;
  let provider: BedrockProvider;

  beforeAll(async () => {
    fake = await startFakeBedrockServer();
    provider = new BedrockProvider({ region: 'us-east-1', endpoint: fake.url, credentials });
  });

  afterAll(async () => {
    await fake.close();
  });

  beforeEach(() => {
    fake.reset();
  });

  it('sends the model id, the alternating conversation and the tool configuration the service accepts', async () => {
    fake.enqueue({ kind: 'reply', text: 'A cat is a small feline; it is noon.' });
    const result = await provider.complete(request({ messages: parallelToolRound, tools }));
    expect(result.message.content).toBe('A cat is a small feline; it is noon.');
    const received = fake.requests[0];
    expect(received?.operation).toBe('converse');
    expect(received?.modelId).toBe(model);
    expect(received?.headers['authorization']).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDFAKE\//);
    expect(received?.body.messages?.map((message) => message.role)).toEqual(['user', 'assistant', 'user']);
    expect(received?.body.toolConfig?.tools).toHaveLength(2);
    expect(result.usage).toEqual(received?.usage);
  });

  it('assembles streamed tool calls: one index per tool, id and name first, arguments in pieces', async () => {
    fake.enqueue({
      kind: 'tool_calls',
      text: 'Checking.',
      calls: [
        { name: 'lookup', arguments: { word: 'a rather long word to look up' } },
        { name: 'now', arguments: {} },
      ],
    });
    const chunks = await drainStream(provider.stream(request({ tools })));
    const deltas = chunks.flatMap((chunk) => (chunk.type === 'delta' ? (chunk.tool_calls ?? []) : []));
    const first = deltas.filter((delta) => delta.index === 0);
    expect(first[0]).toMatchObject({ index: 0, id: 'tooluse_fake1_0', name: 'lookup' });
    expect(first.slice(1).every((delta) => delta.id === undefined && delta.name === undefined)).toBe(true);
    expect(first.length).toBeGreaterThan(3);

    const result = await collectStream(
      (async function* () {
        yield* chunks;
      })(),
    );
    expect(result.message).toEqual({
      role: 'assistant',
      content: 'Checking.',
      tool_calls: [
        {
          id: 'tooluse_fake1_0',
          type: 'function',
          function: { name: 'lookup', arguments: '{"word":"a rather long word to look up"}' },
        },
        { id: 'tooluse_fake1_1', type: 'function', function: { name: 'now', arguments: '{}' } },
      ],
    });
    expect(result.finish_reason).toBe('tool_calls');
  });

  it('returns structured output as JSON content, from a forced call of the answer tool, streamed or not', async () => {
    const response_format = {
      type: 'json_schema' as const,
      json_schema: {
        name: 'weather',
        schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
    };
    const answer = { kind: 'tool_calls' as const, calls: [{ name: 'weather', arguments: { city: 'Oslo' } }] };
    fake.enqueue(answer, answer);
    const whole = await provider.complete(request({ tools, response_format }));
    const streamed = await collectStream(provider.stream(request({ tools, response_format })));
    for (const result of [whole, streamed]) {
      expect(result.message).toEqual({ role: 'assistant', content: '{"city":"Oslo"}' });
      expect(result.finish_reason).toBe('stop');
    }
    const config = fake.requests[0]?.body.toolConfig as {
      tools: { toolSpec: { name: string; inputSchema: { json: unknown } } }[];
      toolChoice: unknown;
    };
    expect(config.toolChoice).toEqual({ tool: { name: 'weather' } });
    expect(config.tools.at(-1)?.toolSpec).toMatchObject({
      name: 'weather',
      inputSchema: { json: response_format.json_schema.schema },
    });
  });

  it.for([
    [403, 'AccessDeniedException', 'auth'],
    [403, 'UnrecognizedClientException', 'auth'],
    [403, 'ExpiredTokenException', 'auth'],
    [408, 'ModelTimeoutException', 'timeout'],
    [424, 'ModelErrorException', 'server_error'],
    [429, 'ModelNotReadyException', 'server_error'],
    [503, 'ServiceUnavailableException', 'server_error'],
    [404, 'ResourceNotFoundException', 'model_unavailable'],
    [409, 'ConflictException', 'server_error'],
  ] as const)('maps a %i %s to %s', async ([status, type, kind]) => {
    fake.enqueue({ kind: 'error', status, type });
    const error = await providerFailure(provider.complete(request()));
    expect(error.kind).toBe(kind);
    expect(error.status).toBe(status);
    expect(error.fallbackEligible).toBe(true);
  });

  it('throws invalid_request when the service rejects the request it was sent', async () => {
    const error = await providerFailure(provider.complete(request({ max_tokens: 0 })));
    expect(error.kind).toBe('invalid_request');
    expect(error.message).toMatch(/maxTokens/);
  });

  it('throws stream_cut on a modelStreamErrorException mid-stream, after the content before it', async () => {
    fake.enqueue({ kind: 'stream_error', afterChunks: 3, type: 'modelStreamErrorException' });
    const chunks: ProviderStreamChunk[] = [];
    const error = await providerFailure(
      (async () => {
        for await (const chunk of provider.stream(request())) chunks.push(chunk);
      })(),
    );
    expect(error.kind).toBe('stream_cut');
    expect(chunks.length).toBeGreaterThan(0);
  });

  it('throws rate_limited on a throttlingException mid-stream', async () => {
    fake.enqueue({ kind: 'stream_error', afterChunks: 2, type: 'throttlingException' });
    expect((await providerFailure(drainStream(provider.stream(request())))).kind).toBe('rate_limited');
  });

  it('throws connection when the service drops the connection before answering', async () => {
    fake.enqueue({ kind: 'drop' });
    expect((await providerFailure(provider.complete(request()))).kind).toBe('connection');
  });

  it('throws connection when nothing listens at the endpoint', async () => {
    const port = await closedPort();
    const nowhere = new BedrockProvider({
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${port}`,
      credentials,
    });
    expect((await providerFailure(nowhere.complete(request()))).kind).toBe('connection');
  });
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
