import { describe, expect, it } from 'vitest';
import { OpenAiCompatibleProvider } from '../../../functions/model-policy/providers/openai-compatible-provider.ts';
import { continueTrace, runInTrace } from '../../../functions/shared/observability/trace-context.ts';

describe('trace headers sent to a model provider', () => {
  it("returns the request's trace id with the node's own span, and no tracestate or baggage, to the provider", async () => {
    const sent: Headers[] = [];
    const provider = new OpenAiCompatibleProvider({
      baseUrl: 'https://provider.invalid/v1',
      apiKey: 'sk-test',
      fetch: (_url, init) => {
        sent.push(new Headers(init?.headers));
        return Promise.resolve(
          Response.json({ data: [{ index: 0, embedding: [0.5] }], usage: { prompt_tokens: 1 } }),
        );
      },
    });
    const trace = continueTrace('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    await runInTrace(trace, () =>
      provider.embed({ model: 'text-embedding-3-small', input: ['x'], signal: AbortSignal.timeout(5_000) }),
    );
    expect(sent).toHaveLength(1);
    expect(sent[0]?.get('traceparent')).toBe(`00-4bf92f3577b34da6a3ce929d0e0e4736-${trace.spanId}-01`);
    expect(trace.spanId).not.toBe('00f067aa0ba902b7');
    expect(sent[0]?.has('tracestate')).toBe(false);
    expect(sent[0]?.has('baggage')).toBe(false);
  });
});
