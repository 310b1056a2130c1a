import { describe, expect, it } from 'vitest';
import { InvalidRequestError, PayloadTooLargeError } from '../../../functions/shared/errors/agentos-error.ts';
import { ModelCatalogSchema } from '../../../functions/model-policy/schemas/model-catalog.ts';
import {
  candidatesOfKind,
  embeddingTargets,
  routeTargets,
} from '../../../functions/model-policy/router/route-plan.ts';

const catalog = ModelCatalogSchema.parse({
  backends: {
    bedrock: { kind: 'bedrock', region: 'us-east-1' },
    openai: { kind: 'openai', base_url: 'https://api.openai.test/v1' },
    local: { kind: 'local' },
  },
  models: {
    'bedrock/claude': { backend: 'bedrock', model: 'claude', vision: true },
    'openai/gpt': { backend: 'openai', model: 'gpt', vision: true },
    'local/text': { backend: 'local', model: 'echo' },
  },
  tiers: {},
  price_tables: [
    {
      version: 'v1',
      effective_from: '2025-01-01T00:00:00Z',
      prices: {
        'bedrock/claude': { input_usd_per_mtok: 1, output_usd_per_mtok: 1 },
        'openai/gpt': { input_usd_per_mtok: 1, output_usd_per_mtok: 1 },
        'local/text': { input_usd_per_mtok: 0, output_usd_per_mtok: 0 },
      },
    },
  ],
});

const chain = ['local/text', 'bedrock/claude', 'openai/gpt'];

describe('routeTargets with images', () => {
  it('returns only vision models, and no Bedrock model for https: images', () => {
    const inline = routeTargets(catalog, chain, false, { any: true, fetched: false, modelRef: 'tier:x' });
    expect(inline.map((target) => target.modelRef)).toEqual(['bedrock/claude', 'openai/gpt']);
    const fetched = routeTargets(catalog, chain, false, { any: true, fetched: true, modelRef: 'tier:x' });
    expect(fetched.map((target) => target.modelRef)).toEqual(['openai/gpt']);
  });

  it('throws invalid_request naming the model when none of its chain has vision', () => {
    expect(() =>
      routeTargets(catalog, ['local/text'], false, { any: true, fetched: false, modelRef: 'local/text' }),
    ).toThrow(InvalidRequestError);
    expect(() =>
      routeTargets(catalog, ['local/text'], false, { any: true, fetched: false, modelRef: 'local/text' }),
    ).toThrow("The model 'local/text' does not take image input");
  });

  it('throws invalid_request when only Bedrock could take an https: image', () => {
    expect(() =>
      routeTargets(catalog, ['bedrock/claude'], false, {
        any: true,
        fetched: true,
        modelRef: 'bedrock/claude',
      }),
    ).toThrow(/data: URLs only/);
  });

  it('returns a model without vision when the call has no images', () => {
    expect(routeTargets(catalog, ['local/text'], false).map((target) => target.modelRef)).toEqual([
      'local/text',
    ]);
  });
});

const kinds = ModelCatalogSchema.parse({
  backends: { local: { kind: 'local' } },
  models: {
    'local/text': { backend: 'local', model: 'echo' },
    'local/embed': { backend: 'local', model: 'embed-small', embedding: { dimensions: 256 } },
    'local/shrink': {
      backend: 'local',
      model: 'shrink',
      embedding: { dimensions: 1024, dimensions_allowed: [256, 512] },
    },
  },
  tiers: { mixed: ['local/text', 'local/embed'] },
  price_tables: [
    {
      version: 'v1',
      effective_from: '2025-01-01T00:00:00Z',
      prices: {
        'local/text': { input_usd_per_mtok: 0, output_usd_per_mtok: 0 },
        'local/embed': { input_usd_per_mtok: 0, output_usd_per_mtok: 0 },
        'local/shrink': { input_usd_per_mtok: 0, output_usd_per_mtok: 0 },
      },
    },
  ],
});

describe('candidatesOfKind', () => {
  it('returns only the members of a mixed tier of the kind asked for', () => {
    expect(candidatesOfKind(kinds, ['local/text', 'local/embed'], 'embedding', 'tier:mixed')).toEqual([
      'local/embed',
    ]);
    expect(candidatesOfKind(kinds, ['local/text', 'local/embed'], 'chat', 'tier:mixed')).toEqual([
      'local/text',
    ]);
  });

  it('throws invalid_request naming the model for the wrong kind', () => {
    expect(() => candidatesOfKind(kinds, ['local/embed'], 'chat', 'local/embed')).toThrow(
      /'local\/embed' is an embedding model/,
    );
    expect(() => candidatesOfKind(kinds, ['local/text'], 'embedding', 'local/text')).toThrow(
      /'local\/text' is not an embedding model/,
    );
  });

  it('throws when the catalog lets an embedding model fall back to a chat model', () => {
    expect(() =>
      ModelCatalogSchema.parse({
        backends: { local: { kind: 'local' } },
        models: {
          'local/text': { backend: 'local', model: 'echo' },
          'local/embed': {
            backend: 'local',
            model: 'embed-small',
            embedding: { dimensions: 256 },
            fallbacks: ['local/text'],
          },
        },
        price_tables: [
          {
            version: 'v1',
            effective_from: '2025-01-01T00:00:00Z',
            prices: {
              'local/text': { input_usd_per_mtok: 0, output_usd_per_mtok: 0 },
              'local/embed': { input_usd_per_mtok: 0, output_usd_per_mtok: 0 },
            },
          },
        ],
      }),
    ).toThrow(/not the same kind of model/);
  });
});

describe('embeddingTargets', () => {
  const shrink = routeTargets(kinds, ['local/shrink'], false);

  it('returns the targets that produce the length asked for', () => {
    const call = { modelRef: 'local/shrink', inputs: 2, maxValues: 65_536 };
    expect(embeddingTargets(kinds, shrink, { ...call, dimensions: 512 })).toHaveLength(1);
    expect(embeddingTargets(kinds, shrink, call)).toHaveLength(1);
  });

  it('throws invalid_request naming dimensions for a length no target produces', () => {
    let thrown: unknown;
    try {
      embeddingTargets(kinds, shrink, {
        modelRef: 'local/shrink',
        inputs: 1,
        dimensions: 300,
        maxValues: 65_536,
      });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidRequestError);
    expect((thrown as InvalidRequestError).details).toMatchObject({
      fields: [{ field: 'dimensions', message: 'supported: 1024, 256, 512' }],
    });
  });

  it('throws payload too large naming input when the answer would hold too many numbers', () => {
    expect(() =>
      embeddingTargets(kinds, shrink, { modelRef: 'local/shrink', inputs: 65, maxValues: 65_536 }),
    ).toThrow(PayloadTooLargeError);
  });
});
