import { describe, expect, it } from 'vitest';
import type { ChatMessage, ToolDefinition } from '../../../functions/shared/contracts/chat.ts';
import { LocalModelProvider } from '../../../functions/model-policy/providers/local-provider.ts';
import type {
  ProviderRequest,
  ProviderStreamChunk,
} from '../../../functions/model-policy/ports/model-provider-port.ts';
import {
  countCompletionTokens,
  estimatePromptTokens,
} from '../../../functions/model-policy/metering/token-estimate.ts';
import { drainStream, providerFailure } from '../../support/provider-calls.ts';

const echoTool: ToolDefinition = {
  type: 'function',
  function: { name: 'echo', description: 'Echoes text', parameters: { type: 'object' } },
};

function request(overrides: Partial<ProviderRequest> = {}): ProviderRequest {
  return {
    model: 'echo',
    messages: [{ role: 'user', content: 'hello there' }],
    max_tokens: 100,
    signal: new AbortController().signal,
    ...overrides,
  };
}

function scripted(turns: unknown, history: ChatMessage[] = [], maxTokens = 100): ProviderRequest {
  return request({
    model: 'scripted',
    messages: [
      { role: 'system', content: `You are a test.\nagentos-script: ${JSON.stringify(turns)}` },
      { role: 'user', content: 'go' },
      ...history,
    ],
    max_tokens: maxTokens,
  });
}

describe('estimatePromptTokens', () => {
  it('counts UTF-8 bytes of every text, tool call and tool call id, plus 4 per message, plus the tools', () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'sé' },
      { role: 'user', content: [{ type: 'text', text: 'ab' }] },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'echo', arguments: '{}' } }],
      },
      { role: 'tool', tool_call_id: 'c1', content: '€' },
    ];
    const toolBytes = Buffer.byteLength(JSON.stringify([echoTool]));
    expect(estimatePromptTokens(messages)).toBe(3 + 2 + (4 + 2) + (2 + 3) + 4 * 4);
    expect(estimatePromptTokens(messages, [echoTool])).toBe(3 + 2 + 6 + 5 + 16 + toolBytes);
  });
});

describe('countCompletionTokens', () => {
  it('counts max(words, a quarter of the bytes) of the content and 1 + a quarter of the argument bytes per tool call', () => {
    expect(countCompletionTokens({ role: 'assistant', content: '  a b\nc ' })).toBe(3);
    expect(countCompletionTokens({ role: 'assistant', content: '  one two\nthree ' })).toBe(4);
    expect(countCompletionTokens({ role: 'assistant', content: '汉'.repeat(8) })).toBe(6);
    expect(
      countCompletionTokens({
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'c', type: 'function', function: { name: 'x', arguments: '{"text":"hi"}' } }],
      }),
    ).toBe(1 + Math.ceil(13 / 4));
  });
});

describe('LocalModelProvider', () => {
  const provider = new LocalModelProvider();

  it('echoes the last user message with metered usage', async () => {
    const req = request({
      messages: [
        { role: 'user', content: 'first' },
        { role: 'assistant', content: 'echo: first' },
        { role: 'user', content: 'second words here' },
      ],
    });
    const result = await provider.complete(req);
    expect(result).toEqual({
      message: { role: 'assistant', content: 'echo: second words here' },
      finish_reason: 'stop',
      usage: {
        prompt_tokens: estimatePromptTokens(req.messages),
        completion_tokens: Math.ceil(Buffer.byteLength('echo: second words here') / 4),
      },
    });
  });

  it('plays scripted turns by the number of assistant messages, then answers done', async () => {
    const turns = [{ tool_calls: [{ name: 'echo', arguments: { text: 'hi' } }] }, { reply: 'all good' }];
    const first = await provider.complete(scripted(turns));
    expect(first.finish_reason).toBe('tool_calls');
    expect(first.message).toEqual({
      role: 'assistant',
      content: null,
      tool_calls: [
        { id: 'call_0_0', type: 'function', function: { name: 'echo', arguments: '{"text":"hi"}' } },
      ],
    });
    const afterTool: ChatMessage[] = [
      first.message,
      { role: 'tool', tool_call_id: 'call_0_0', content: 'hi' },
    ];
    const second = await provider.complete(scripted(turns, afterTool));
    expect(second.message.content).toBe('all good');
    expect(second.finish_reason).toBe('stop');
    const third = await provider.complete(
      scripted(turns, [...afterTool, second.message, { role: 'user', content: 'more' }]),
    );
    expect(third.message.content).toBe('done');
  });

  it('fills exactly max_tokens tokens and finishes with length', async () => {
    const result = await provider.complete(scripted([{ fill: true }], [], 7));
    expect(result.message.content).toBe('tok tok tok tok tok tok tok');
    expect(result.finish_reason).toBe('length');
    expect(result.usage.completion_tokens).toBe(7);
  });

  it('truncates a reply longer than max_tokens tokens', async () => {
    const result = await provider.complete(scripted([{ reply: 'a b  c d e' }], [], 3));
    expect(result).toMatchObject({ message: { content: 'a b  c' }, finish_reason: 'length' });
    expect(result.usage.completion_tokens).toBe(3);
  });

  it('truncates a reply without spaces by its bytes', async () => {
    const result = await provider.complete(scripted([{ reply: '汉'.repeat(100) }], [], 3));
    expect(result).toMatchObject({ message: { content: '汉'.repeat(4) }, finish_reason: 'length' });
    expect(result.usage.completion_tokens).toBe(3);
  });

  it('drops tool calls that do not fit in max_tokens', async () => {
    const calls = [
      { name: 'echo', arguments: { text: 'hi' } },
      { name: 'echo', arguments: { text: 'a much longer argument text' } },
    ];
    const result = await provider.complete(scripted([{ tool_calls: calls }], [], 6));
    expect(result.finish_reason).toBe('length');
    expect(result.message.tool_calls?.map((call) => call.function.arguments)).toEqual(['{"text":"hi"}']);
    expect(result.usage.completion_tokens).toBeLessThanOrEqual(6);
  });

  it.each([
    ['rate_limited', true],
    ['server_error', true],
    ['timeout', true],
    ['connection', true],
    ['invalid_request', false],
  ] as const)('throws a %s ProviderError when scripted to', async (kind, fallbackEligible) => {
    const error = await providerFailure(provider.complete(scripted([{ error: kind }])));
    expect(error.kind).toBe(kind);
    expect(error.fallbackEligible).toBe(fallbackEligible);
  });

  it('streams some content and then throws stream_cut when scripted to cut', async () => {
    const chunks: ProviderStreamChunk[] = [];
    const error = await providerFailure(
      (async () => {
        for await (const chunk of provider.stream(scripted([{ error: 'stream_cut' }]))) chunks.push(chunk);
      })(),
    );
    expect(error.kind).toBe('stream_cut');
    expect(chunks.length).toBeGreaterThan(0);
    expect(chunks.every((chunk) => chunk.type === 'delta')).toBe(true);
    expect((await providerFailure(provider.complete(scripted([{ error: 'stream_cut' }])))).kind).toBe(
      'stream_cut',
    );
  });

  it('throws timeout when the signal aborts during a scripted delay', async () => {
    const controller = new AbortController();
    const req = { ...scripted([{ reply: 'late', delay_ms: 600_000 }]), signal: controller.signal };
    const pending = providerFailure(provider.complete(req));
    controller.abort();
    expect((await pending).kind).toBe('timeout');
  });

  it('answers after a short scripted delay', async () => {
    const result = await provider.complete(scripted([{ reply: 'after a pause', delay_ms: 5 }]));
    expect(result.message.content).toBe('after a pause');
  });

  it('throws a fallback-eligible model_unavailable for an unknown model', async () => {
    const error = await providerFailure(provider.complete(request({ model: 'gpt-4o' })));
    expect(error.kind).toBe('model_unavailable');
    expect(error.fallbackEligible).toBe(true);
    expect(error.message).toContain('gpt-4o');
  });

  it('throws invalid_request naming the problem when the script is invalid', async () => {
    const notJson = request({
      model: 'scripted',
      messages: [{ role: 'user', content: 'agentos-script: [{' }],
    });
    expect((await providerFailure(provider.complete(notJson))).message).toMatch(/not valid JSON/);
    const badTurn = await providerFailure(provider.complete(scripted([{ reply: 'ok' }, { dance: true }])));
    expect(badTurn.kind).toBe('invalid_request');
    expect(badTurn.message).toMatch(/agentos-script.*at 1/);
  });

  it('follows a programmatic script instead of an embedded one', async () => {
    const driven = new LocalModelProvider({
      script: (req) => (req.messages.length > 1 ? { reply: 'second call' } : { error: 'rate_limited' }),
    });
    expect((await providerFailure(driven.complete(request({ model: 'scripted' })))).kind).toBe(
      'rate_limited',
    );
    const result = await driven.complete(
      request({
        model: 'scripted',
        messages: [
          { role: 'user', content: 'a' },
          { role: 'user', content: 'b' },
        ],
      }),
    );
    expect(result.message.content).toBe('second call');
  });

  it('streams word by word and tool calls as indexed deltas, ending with the same usage as complete', async () => {
    const turns = [
      { tool_calls: [{ name: 'echo', arguments: { text: 'a longer argument' } }, { name: 'now' }] },
    ];
    const req = { ...scripted(turns), tools: [echoTool] };
    const whole = await provider.complete(req);
    const chunks = await drainStream(provider.stream(req));
    const toolDeltas = chunks.flatMap((chunk) => (chunk.type === 'delta' ? (chunk.tool_calls ?? []) : []));
    expect(toolDeltas.filter((delta) => delta.index === 0).length).toBeGreaterThan(2);
    const assembled = [0, 1].map((index) => {
      const deltas = toolDeltas.filter((delta) => delta.index === index);
      return {
        id: deltas[0]?.id,
        name: deltas[0]?.name,
        arguments: deltas.map((delta) => delta.arguments ?? '').join(''),
      };
    });
    expect(assembled).toEqual(whole.message.tool_calls?.map((call) => ({ id: call.id, ...call.function })));
    expect(chunks.at(-1)).toEqual({ type: 'finish', finish_reason: 'tool_calls', usage: whole.usage });

    const echo = await drainStream(
      provider.stream(request({ messages: [{ role: 'user', content: 'one two three' }] })),
    );
    const text = echo.flatMap((chunk) => (chunk.type === 'delta' ? [chunk.content ?? ''] : []));
    expect(text.length).toBe(4);
    expect(text.join('')).toBe('echo: one two three');
  });
});
