import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../../functions/shared/errors/agentos-error.ts';
import { ModelCatalogSchema } from '../../../functions/model-policy/schemas/model-catalog.ts';
import { routeTargets } from '../../../functions/model-policy/router/route-plan.ts';

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
