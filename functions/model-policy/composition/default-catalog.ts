import type { z } from 'zod';
import type { ModelCatalogSchema } from '../schemas/model-catalog.ts';

/**
 * The catalog of a node configured with no `AGENTOS_MODEL_CATALOG`: the deterministic local models
 * (chat, and the `local/embed-small` embedding model),
 * priced at zero (still metered in tokens, and still capped by token budgets).
 */
export const defaultModelCatalog: z.input<typeof ModelCatalogSchema> = {
  backends: { local: { kind: 'local', timeout_ms: 30_000 } },
  models: {
    'local/echo': { backend: 'local', model: 'echo', tools: true, vision: true, max_output_tokens: 4096 },
    'local/scripted': { backend: 'local', model: 'scripted', tools: true, max_output_tokens: 4096 },
    'local/embed-small': {
      backend: 'local',
      model: 'embed-small',
      tools: false,
      embedding: { dimensions: 256 },
    },
  },
  tiers: { fast: ['local/echo'], default: ['local/scripted', 'local/echo'] },
  price_tables: [
    {
      version: 'local-2025-01',
      effective_from: '2025-01-01T00:00:00Z',
      prices: {
        'local/echo': { input_usd_per_mtok: 0, output_usd_per_mtok: 0 },
        'local/scripted': { input_usd_per_mtok: 0, output_usd_per_mtok: 0 },
        'local/embed-small': { input_usd_per_mtok: 0, output_usd_per_mtok: 0 },
      },
    },
  ],
};
