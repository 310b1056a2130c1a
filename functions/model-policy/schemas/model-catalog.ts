import { z } from 'zod';

/**
 * The node's model catalog (configuration, not a public API shape): backends with their endpoints,
 * credential references and timeouts; models with capabilities and fallbacks; tiers; and the
 * versioned price table. Credentials are references, resolved at call time, never values.
 */

/** `env:NAME` (an environment variable) or `secretsmanager:<arn-or-name>[#json-field]`. */
export const CredentialRefSchema = z
  .string()
  .regex(
    /^(env:[A-Za-z_][A-Za-z0-9_]*|secretsmanager:[A-Za-z0-9/_+=.@:-]+(#[A-Za-z0-9_.-]+)?)$/,
    'credential references are env:NAME or secretsmanager:<arn-or-name>[#field]',
  );

const TimeoutSchema = z.number().int().positive().max(900_000).default(60_000);

/** A backend's id in the catalog (what models name as their `backend`). */
export const BackendIdSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'backend ids are a-z 0-9 _ -');

/** The deterministic local provider (local mode and tests). */
export const LocalBackendSchema = z.strictObject({ kind: z.literal('local'), timeout_ms: TimeoutSchema });

/** A server speaking OpenAI's chat-completions API: OpenAI, vLLM, Ollama. */
export const OpenAiBackendSchema = z.strictObject({
  kind: z.literal('openai'),
  /** Up to the API version, e.g. `https://api.openai.com/v1`, `http://vllm:8000/v1`. */
  base_url: z.url({ protocol: /^https?$/ }),
  api_key: CredentialRefSchema.optional(),
  max_tokens_field: z.enum(['max_tokens', 'max_completion_tokens']).optional(),
  timeout_ms: TimeoutSchema,
});

/** Amazon Bedrock Runtime through Converse and ConverseStream. */
export const BedrockBackendSchema = z.strictObject({
  kind: z.literal('bedrock'),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as us-east-1'),
  /** Only for emulators and VPC endpoints; the SDK's regional endpoint otherwise. */
  endpoint: z.url({ protocol: /^https?$/ }).optional(),
  /**
   * A secret holding `{"access_key_id","secret_access_key","session_token"?}`; without it the
   * function's own role is used.
   */
  credentials: CredentialRefSchema.optional(),
  timeout_ms: TimeoutSchema,
});

/** Any backend, told apart by `kind`. */
export const BackendSchema = z.discriminatedUnion('kind', [
  LocalBackendSchema,
  OpenAiBackendSchema,
  BedrockBackendSchema,
]);

/** A validated backend (defaults applied). */
export type BackendConfig = z.output<typeof BackendSchema>;

/** A concrete model: `<name>/<id>`, e.g. `local/echo`, `openai/gpt-4o-mini`, `bedrock/anthropic.claude-3-haiku-20240307-v1:0`. */
export const ModelRefSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}\/[A-Za-z0-9._:/@+-]{1,200}$/, 'model refs look like provider/model-id');

/** A tier name as used in `tier:<name>`. */
export const TierNameSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'tier names are a-z 0-9 _ -');

/**
 * What marks a model as an embedding model (served by `POST /v1/embeddings` only, never by chat):
 * its native vector length and the shorter lengths it can produce on request (`dimensions`), any up
 * to the native one (`any`) or a list; without `dimensions_allowed` only the native length.
 */
export const EmbeddingCapabilitySchema = z.strictObject({
  dimensions: z.number().int().positive().max(65_536),
  dimensions_allowed: z
    .union([z.literal('any'), z.array(z.number().int().positive().max(65_536)).min(1).max(32)])
    .optional(),
});

/** A model's embedding capability. */
export type EmbeddingCapability = z.output<typeof EmbeddingCapabilitySchema>;

/** A concrete model: its backend, the backend's own id, capabilities and fallbacks. */
export const CatalogModelSchema = z.strictObject({
  backend: BackendIdSchema,
  /** The backend's own model id. */
  model: z.string().min(1).max(256),
  /** Whether the model accepts tool definitions. */
  tools: z.boolean().default(true),
  /** Whether the model takes image input (`image_url` parts); off unless the catalog says so. */
  vision: z.boolean().default(false),
  /** The model's own output limit; calls are lowered to it. */
  max_output_tokens: z.number().int().positive().max(1_000_000).optional(),
  /** Set for an embedding model; a model without it is a chat model. */
  embedding: EmbeddingCapabilitySchema.optional(),
  /**
   * Models tried, in order, when this one fails with a fallback-eligible error; an embedding model's
   * fallbacks are embedding models too (ideally the same model on another backend, since vectors of
   * different models do not compare).
   */
  fallbacks: z.array(ModelRefSchema).max(10).default([]),
});

/** A validated catalog model (defaults applied). */
export type CatalogModel = z.output<typeof CatalogModelSchema>;

/** Prices in USD per million tokens, at most 3 decimals (so costs are whole nano-dollars per token). */
const PriceSchema = z
  .number()
  .min(0)
  .max(1_000_000)
  .refine((usd) => Math.abs(usd * 1000 - Math.round(usd * 1000)) < 1e-6, 'at most 3 decimals');

/** A model's prices in USD per million input and output tokens. */
export const ModelPriceSchema = z.strictObject({
  input_usd_per_mtok: PriceSchema,
  output_usd_per_mtok: PriceSchema,
});

/** One version of the price table, in force from `effective_from` until the next. */
export const PriceTableSchema = z.strictObject({
  /** Recorded with every usage record, so a cost can always be traced to the prices it used. */
  version: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/),
  /** The table applies from this instant until the next version's. */
  effective_from: z.iso.datetime({ offset: true }),
  prices: z.record(ModelRefSchema, ModelPriceSchema),
});

/** The whole catalog, checked for dangling references and missing prices. */
export const ModelCatalogSchema = z
  .strictObject({
    backends: z.record(BackendIdSchema, BackendSchema),
    models: z.record(ModelRefSchema, CatalogModelSchema),
    tiers: z.record(TierNameSchema, z.array(ModelRefSchema).min(1).max(10)).default({}),
    price_tables: z.array(PriceTableSchema).min(1).max(100),
  })
  .superRefine((catalog, context) => {
    for (const [ref, model] of Object.entries(catalog.models)) {
      if (catalog.backends[model.backend] === undefined) {
        context.addIssue({
          code: 'custom',
          path: ['models', ref, 'backend'],
          message: `unknown backend "${model.backend}"`,
        });
      }
      model.fallbacks.forEach((fallback, index) => {
        const target = catalog.models[fallback];
        if (target === undefined) {
          context.addIssue({
            code: 'custom',
            path: ['models', ref, 'fallbacks', index],
            message: `unknown model "${fallback}"`,
          });
        } else if ((target.embedding === undefined) !== (model.embedding === undefined)) {
          context.addIssue({
            code: 'custom',
            path: ['models', ref, 'fallbacks', index],
            message: `"${fallback}" is not the same kind of model (chat or embedding) as "${ref}"`,
          });
        }
      });
    }
    for (const [tier, members] of Object.entries(catalog.tiers)) {
      members.forEach((member, index) => {
        if (catalog.models[member] === undefined) {
          context.addIssue({
            code: 'custom',
            path: ['tiers', tier, index],
            message: `unknown model "${member}"`,
          });
        }
      });
    }
    const versions = new Set<string>();
    catalog.price_tables.forEach((table, index) => {
      if (versions.has(table.version)) {
        context.addIssue({
          code: 'custom',
          path: ['price_tables', index, 'version'],
          message: 'duplicate version',
        });
      }
      versions.add(table.version);
      for (const ref of Object.keys(catalog.models)) {
        if (table.prices[ref] === undefined) {
          context.addIssue({
            code: 'custom',
            path: ['price_tables', index, 'prices', ref],
            message: `no price for model "${ref}"`,
          });
        }
      }
    });
  });

/** A validated catalog (defaults applied). */
export type ModelCatalog = z.output<typeof ModelCatalogSchema>;
