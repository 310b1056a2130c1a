import { z } from 'zod';

/**
 * The OpenAI-compatible embeddings surface (`POST /v1/embeddings`): the request fields the official
 * clients send, and the list shape they parse (HLD §2.1 Model API).
 */

/** Most inputs one request may embed (OpenAI takes 2048; the gateway stores every answer for replays). */
export const maxEmbeddingInputs = 256;

/** Longest text of one input, in characters (Titan Text Embeddings v2 takes 50,000). */
export const maxEmbeddingInputChars = 50_000;

/**
 * Most numbers one answer may hold (inputs × dimensions): a completed call is stored for replays of
 * its request id (HLD §5.3), and a stored call must stay well within one ledger item.
 */
export const maxEmbeddingValues = 65_536;

/** Most items of an `input` array as the schema takes it: as many as one token array may hold. */
const maxInputItems = 8192;

const TextSchema = z.string().min(1).max(maxEmbeddingInputChars);

/** `POST /v1/embeddings`. */
export const EmbeddingRequestSchema = z
  .strictObject({
    model: z.string().min(1).max(256).describe('An embedding model (`local/embed-small`) or a tier.'),
    // One array variant whose items may be texts or tokens, rather than one variant per OpenAI form:
    // the handler refuses tokens by name (embeddingTexts) and bounds the number of texts.
    input: z
      .union([
        TextSchema,
        z
          .array(
            z.union([TextSchema, z.number().int().nonnegative(), z.array(z.number().int().nonnegative())]),
          )
          .min(1)
          .max(maxInputItems),
      ])
      .describe(
        `A text or up to ${maxEmbeddingInputs} texts, each non-empty and at most ${maxEmbeddingInputChars} ` +
          'characters. Token arrays (OpenAI’s other forms) are refused with 400 invalid_request: send text.',
      ),
    encoding_format: z
      .enum(['float', 'base64'])
      .optional()
      .describe('`float` (default): arrays of numbers; `base64`: little-endian float32 bytes, base64.'),
    dimensions: z
      .number()
      .int()
      .positive()
      .max(65_536)
      .optional()
      .describe('Vector length, for models that can shorten their vectors; 400 for a model that cannot.'),
    user: z.string().max(256).optional(),
  })
  .meta({ id: 'EmbeddingRequest' });

/** A validated embeddings request. */
export type EmbeddingRequest = z.infer<typeof EmbeddingRequestSchema>;

/** One vector of the answer. */
export const EmbeddingObjectSchema = z
  .strictObject({
    object: z.literal('embedding'),
    index: z.number().int().nonnegative().describe('The position of its input in the request.'),
    embedding: z
      .union([z.array(z.number()), z.string()])
      .describe('The vector: numbers, or with `encoding_format: base64` little-endian float32 bytes.'),
  })
  .meta({ id: 'Embedding' });

/** `POST /v1/embeddings`: one vector per input, in input order. */
export const EmbeddingListSchema = z
  .strictObject({
    object: z.literal('list'),
    data: z.array(EmbeddingObjectSchema),
    model: z.string().describe('The model that answered.'),
    usage: z.strictObject({
      prompt_tokens: z.number().int().nonnegative(),
      total_tokens: z.number().int().nonnegative(),
    }),
  })
  .meta({ id: 'EmbeddingList' });

/** The embeddings answer. */
export type EmbeddingList = z.infer<typeof EmbeddingListSchema>;
