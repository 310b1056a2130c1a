import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ProviderError } from '../../../functions/model-policy/ports/model-provider-port.ts';
import { BedrockProvider } from '../../../functions/model-policy/providers/bedrock-provider.ts';
import { OpenAiCompatibleProvider } from '../../../functions/model-policy/providers/openai-compatible-provider.ts';
import { startFakeBedrockServer } from '../../fakes/fake-bedrock-server.ts';
import type { FakeBedrockServer } from '../../fakes/fake-bedrock-server.ts';
import { fakeEmbedding } from '../../fakes/fake-behaviour.ts';
import { startFakeOpenAiServer } from '../../fakes/fake-openai-server.ts';
import type { FakeOpenAiServer } from '../../fakes/fake-openai-server.ts';

let openai: FakeOpenAiServer;
let bedrock: FakeBedrockServer;
let openAiProvider: OpenAiCompatibleProvider;
let bedrockProvider: BedrockProvider;

beforeAll(async () => {
  openai = await startFakeOpenAiServer({ apiKey: 'sk-test' });
  bedrock = await startFakeBedrockServer();
  openAiProvider = new OpenAiCompatibleProvider({ baseUrl: openai.url, apiKey: 'sk-test' });
  bedrockProvider = new BedrockProvider({
    region: 'us-east-1',
    endpoint: bedrock.url,
    credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake-secret' },
  });
});

beforeEach(() => {
  openai.reset();
  bedrock.reset();
});

afterAll(async () => {
  bedrockProvider.close();
  await openai.close();
  await bedrock.close();
});

const signal = () => AbortSignal.timeout(5000);

async function failureOf(call: Promise<unknown>): Promise<ProviderError> {
  const error = await call.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}

describe('OpenAiCompatibleProvider.embed', () => {
  it('returns the vectors in input order with the usage the server reported', async () => {
    const result = await openAiProvider.embed({
      model: 'text-embedding-3-small',
      input: ['a b', 'c'],
      dimensions: 4,
      signal: signal(),
    });
    expect(result).toEqual({
      embeddings: [fakeEmbedding('a b', 4), fakeEmbedding('c', 4)],
      usage: { prompt_tokens: 3 },
    });
    expect(openai.requests[0]?.headers.authorization).toBe('Bearer sk-test');
  });

  it('throws rate_limited on a 429', async () => {
    openai.enqueue({ kind: 'error', status: 429 });
    const failure = await failureOf(
      openAiProvider.embed({ model: 'text-embedding-3-small', input: ['x'], signal: signal() }),
    );
    expect([failure.kind, failure.status]).toEqual(['rate_limited', 429]);
  });

  it('throws invalid_request on a 400, which no fallback repeats', async () => {
    openai.enqueue({ kind: 'error', status: 400 });
    const failure = await failureOf(
      openAiProvider.embed({ model: 'text-embedding-3-small', input: ['x'], signal: signal() }),
    );
    expect(failure.fallbackEligible).toBe(false);
  });

  it('throws server_error when the answer holds vectors of another length than asked', async () => {
    const failure = await failureOf(
      new OpenAiCompatibleProvider({
        baseUrl: openai.url,
        apiKey: 'sk-test',
        fetch: async (url, init) => {
          const response = await fetch(url, init);
          const body = (await response.json()) as { data: { embedding: number[] }[] };
          body.data[0]!.embedding.pop();
          return Response.json(body);
        },
      }).embed({ model: 'text-embedding-3-small', input: ['x'], dimensions: 4, signal: signal() }),
    );
    expect(failure.kind).toBe('server_error');
  });
});

describe('BedrockProvider.embed', () => {
  it('returns one Titan vector per input, in input order, with the summed token counts', async () => {
    const input = ['one', 'two words', 'three more words', 'four', 'five is here'];
    const result = await bedrockProvider.embed({
      model: 'amazon.titan-embed-text-v2:0',
      input,
      dimensions: 256,
      signal: signal(),
    });
    expect(result.embeddings).toEqual(input.map((text) => fakeEmbedding(text, 256)));
    expect(result.usage.prompt_tokens).toBe(1 + 2 + 3 + 1 + 3);
    expect(bedrock.requests.every((request) => request.operation === 'invoke')).toBe(true);
  });

  it('throws rate_limited when Bedrock throttles', async () => {
    bedrock.enqueue({ kind: 'error', status: 429 });
    const failure = await failureOf(
      bedrockProvider.embed({ model: 'amazon.titan-embed-text-v2:0', input: ['x'], signal: signal() }),
    );
    expect(failure.kind).toBe('rate_limited');
  });

  it('throws invalid_request for a length Titan refuses', async () => {
    const failure = await failureOf(
      bedrockProvider.embed({
        model: 'amazon.titan-embed-text-v2:0',
        input: ['x'],
        dimensions: 300,
        signal: signal(),
      }),
    );
    expect(failure.kind).toBe('invalid_request');
  });
});
