import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestContext } from 'vitest';
import type { ChatMessage, ToolDefinition } from '../../functions/shared/contracts/chat.ts';
import { ProviderError } from '../../functions/model-policy/ports/model-provider-port.ts';
import type {
  ModelProvider,
  ProviderFailureKind,
  ProviderRequest,
  ProviderResult,
  ProviderStreamChunk,
} from '../../functions/model-policy/ports/model-provider-port.ts';
import { collectStream } from '../../functions/model-policy/invocation/stream-assembly.ts';

/**
 * The behaviour every ModelProvider shows, whatever its backend: one suite, run by each adapter's
 * ~3-line test file against its backend (a wire-level fake, or the local provider itself).
 */

/** How the backend answers one call, programmed by a case. */
export type ConformanceBehaviour =
  | { reply: string }
  | { toolCall: { name: string; arguments: Record<string, unknown> } }
  /** Answers with as many tokens as `max_tokens` allows, and stops there. */
  | { fill: true }
  /** `timeout`: answers much later than any test waits; `stream_cut`: stops a stream half-way. */
  | {
      failure: Extract<
        ProviderFailureKind,
        'rate_limited' | 'server_error' | 'invalid_request' | 'timeout' | 'stream_cut'
      >;
    };

export const modelProviderCases = [
  'plain reply',
  'tool call round trip',
  'max_tokens',
  'rate limited',
  'server error',
  'invalid request',
  'timeout',
  'stream cut',
] as const;

export type ModelProviderCase = (typeof modelProviderCases)[number];

/** A provider wired to a programmable backend. */
export type ProviderHarness = {
  provider: ModelProvider;
  /** A model id the backend serves. */
  model: string;
  /** Replaces anything programmed before: the next calls get these behaviours, in order. */
  program(...behaviours: ConformanceBehaviour[]): void;
  /** Cases the implementation cannot support, each with the reason; they are skipped with it. */
  unsupported?: Partial<Record<ModelProviderCase, string>>;
  close(): Promise<void>;
};

const weatherTools: ToolDefinition[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather in a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
  {
    type: 'function',
    function: {
      name: 'get_forecast',
      description: 'Forecast for the next days',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string' }, days: { type: 'integer' } },
        required: ['city', 'days'],
      },
    },
  },
];

/** Time a case lets a call take before aborting it; the backend is programmed to take far longer. */
const abortAfterMs = 300;

/** Runs the ModelProvider conformance cases against the harness the factory builds. */
export function modelProviderConformance(name: string, factory: () => Promise<ProviderHarness>): void {
  describe(`${name} conforms to ModelProvider`, () => {
    let harness: ProviderHarness;

    beforeAll(async () => {
      harness = await factory();
    });

    afterAll(async () => {
      await harness.close();
    });

    function request(overrides: Partial<ProviderRequest> = {}): ProviderRequest {
      return {
        model: harness.model,
        messages: [
          { role: 'system', content: 'You are a concise assistant.' },
          { role: 'user', content: 'Say hello.' },
        ],
        max_tokens: 256,
        signal: AbortSignal.timeout(30_000),
        ...overrides,
      };
    }

    function skipUnsupported(context: TestContext, testCase: ModelProviderCase): void {
      const reason = harness.unsupported?.[testCase];
      if (reason !== undefined) context.skip(`${testCase}: ${reason}`);
    }

    async function streamed(
      req: ProviderRequest,
    ): Promise<{ chunks: ProviderStreamChunk[]; result: ProviderResult }> {
      const chunks: ProviderStreamChunk[] = [];
      const result = await collectStream(
        (async function* () {
          for await (const chunk of harness.provider.stream(req)) {
            chunks.push(chunk);
            yield chunk;
          }
        })(),
      );
      return { chunks, result };
    }

    async function expectFailure(call: Promise<unknown>, kind: ProviderFailureKind): Promise<ProviderError> {
      const error = await call.then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(error).toBeInstanceOf(ProviderError);
      expect((error as ProviderError).kind).toBe(kind);
      return error as ProviderError;
    }

    it('returns the same reply and usage from complete and stream', async (context) => {
      skipUnsupported(context, 'plain reply');
      const text = 'Hello from the conformance suite, nice to meet you.';
      harness.program({ reply: text }, { reply: text });
      const whole = await harness.provider.complete(request());
      expect(whole.message).toEqual({ role: 'assistant', content: text });
      expect(whole.finish_reason).toBe('stop');
      expect(whole.usage.prompt_tokens).toBeGreaterThan(0);
      expect(whole.usage.completion_tokens).toBeGreaterThan(0);

      const { chunks, result } = await streamed(request());
      expect(result).toEqual(whole);
      expect(chunks.filter((chunk) => chunk.type === 'delta').length).toBeGreaterThan(1);
      expect(chunks.filter((chunk) => chunk.type === 'finish')).toHaveLength(1);
      expect(chunks.at(-1)?.type).toBe('finish');
    });

    it('returns tool calls after a prior tool result, alike from complete and stream', async (context) => {
      skipUnsupported(context, 'tool call round trip');
      const args = { city: 'Paris', days: 3 };
      harness.program(
        { toolCall: { name: 'get_forecast', arguments: args } },
        { toolCall: { name: 'get_forecast', arguments: args } },
      );
      const messages: ChatMessage[] = [
        { role: 'system', content: 'Use the tools.' },
        { role: 'user', content: 'What will the weather be in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_prior_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_prior_1', content: 'sunny, 21 °C' },
      ];
      const req = (): ProviderRequest => request({ messages, tools: weatherTools, tool_choice: 'auto' });

      const whole = await harness.provider.complete(req());
      expect(whole.finish_reason).toBe('tool_calls');
      expect(whole.message.tool_calls).toHaveLength(1);
      const call = whole.message.tool_calls![0]!;
      expect(call.id).not.toBe('');
      expect(call.type).toBe('function');
      expect(call.function.name).toBe('get_forecast');
      expect(JSON.parse(call.function.arguments)).toEqual(args);

      const { result } = await streamed(req());
      expect(result.finish_reason).toBe('tool_calls');
      expect(result.usage).toEqual(whole.usage);
      const streamedCall = result.message.tool_calls?.[0];
      expect(streamedCall?.id).not.toBe('');
      expect(streamedCall?.function.name).toBe('get_forecast');
      expect(JSON.parse(streamedCall?.function.arguments ?? 'null')).toEqual(args);
    });

    it('stops at max_tokens with finish length', async (context) => {
      skipUnsupported(context, 'max_tokens');
      harness.program({ fill: true }, { fill: true });
      for (const result of [
        await harness.provider.complete(request({ max_tokens: 5 })),
        (await streamed(request({ max_tokens: 5 }))).result,
      ]) {
        expect(result.finish_reason).toBe('length');
        expect(result.message.content?.match(/\S+/g)).toHaveLength(5);
        expect(result.usage.completion_tokens).toBeGreaterThan(0);
        expect(result.usage.completion_tokens).toBeLessThanOrEqual(5);
      }
    });

    it.for([
      ['rate limited', 'rate_limited', true],
      ['server error', 'server_error', true],
      ['invalid request', 'invalid_request', false],
    ] as const)(
      'throws %s failures with the right fallback eligibility',
      async ([testCase, kind, fallbackEligible], context) => {
        skipUnsupported(context, testCase);
        harness.program({ failure: kind }, { failure: kind });
        const fromComplete = await expectFailure(harness.provider.complete(request()), kind);
        expect(fromComplete.fallbackEligible).toBe(fallbackEligible);
        const fromStream = await expectFailure(streamed(request()), kind);
        expect(fromStream.fallbackEligible).toBe(fallbackEligible);
      },
    );

    it('throws timeout when the abort signal fires before the backend answers', async (context) => {
      skipUnsupported(context, 'timeout');
      harness.program({ failure: 'timeout' }, { failure: 'timeout' });
      const fromComplete = await expectFailure(
        harness.provider.complete(request({ signal: AbortSignal.timeout(abortAfterMs) })),
        'timeout',
      );
      expect(fromComplete.fallbackEligible).toBe(true);
      await expectFailure(streamed(request({ signal: AbortSignal.timeout(abortAfterMs) })), 'timeout');
    });

    it('throws stream_cut when a stream stops before it finished', async (context) => {
      skipUnsupported(context, 'stream cut');
      harness.program({ failure: 'stream_cut' });
      const chunks: ProviderStreamChunk[] = [];
      const error = await expectFailure(
        (async () => {
          for await (const chunk of harness.provider.stream(request())) chunks.push(chunk);
        })(),
        'stream_cut',
      );
      expect(error.fallbackEligible).toBe(true);
      expect(chunks.some((chunk) => chunk.type === 'finish')).toBe(false);
    });
  });
}
