import { describe, expect, it } from 'vitest';
import { countTextTokens } from '../../../functions/model-policy/metering/token-estimate.ts';
import {
  localEmbedding,
  localEmbeddingDimensions,
} from '../../../functions/model-policy/providers/local-embedding.ts';
import { LocalModelProvider } from '../../../functions/model-policy/providers/local-provider.ts';
import { ProviderError } from '../../../functions/model-policy/ports/model-provider-port.ts';
import { packVector, unpackVector } from '../../../functions/model-policy/invocation/embedding-vectors.ts';

function cosine(a: readonly number[], b: readonly number[]): number {
  return a.reduce((sum, value, index) => sum + value * b[index]!, 0);
}

describe('localEmbedding', () => {
  it('returns a unit vector of 256 numbers', () => {
    const vector = localEmbedding('The quick brown fox');
    expect(vector).toHaveLength(localEmbeddingDimensions);
    expect(Math.hypot(...vector)).toBeCloseTo(1, 10);
  });

  it('returns the same vector for the same text, whatever its case or spacing', () => {
    expect(localEmbedding('Hello,  World')).toEqual(localEmbedding('hello world'));
  });

  it('returns a higher cosine for texts sharing words than for unrelated texts', () => {
    const query = localEmbedding('how do I reset my password');
    const close = localEmbedding('resetting a forgotten password');
    const far = localEmbedding('quarterly revenue grew in Europe');
    expect(cosine(query, close)).toBeGreaterThan(cosine(query, far) + 0.2);
  });

  it('returns a vector of its own for a text without letters or digits', () => {
    const bang = localEmbedding('!!!');
    expect(Math.hypot(...bang)).toBeCloseTo(1, 10);
    expect(bang).not.toEqual(localEmbedding('???'));
  });
});

describe('LocalModelProvider.embed', () => {
  const signal = new AbortController().signal;

  it('returns one vector per input and meters countTextTokens of each', async () => {
    const result = await new LocalModelProvider().embed({
      model: 'embed-small',
      input: ['one two', 'three'],
      signal,
    });
    expect(result.embeddings).toEqual([localEmbedding('one two'), localEmbedding('three')]);
    expect(result.usage.prompt_tokens).toBe(countTextTokens('one two') + countTextTokens('three'));
  });

  it('throws invalid_request for a length other than 256', async () => {
    const refused = await new LocalModelProvider()
      .embed({ model: 'embed-small', input: ['x'], dimensions: 64, signal })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ProviderError);
    expect((refused as ProviderError).kind).toBe('invalid_request');
  });

  it('throws model_unavailable for a chat model', async () => {
    const refused = await new LocalModelProvider()
      .embed({ model: 'echo', input: ['x'], signal })
      .catch((error: unknown) => error);
    expect((refused as ProviderError).kind).toBe('model_unavailable');
  });
});

describe('packVector', () => {
  it('returns base64 float32 that unpacks to the float32 values of the vector', () => {
    const vector = localEmbedding('pack me');
    expect(unpackVector(packVector(vector))).toEqual(Array.from(new Float32Array(vector)));
  });
});
