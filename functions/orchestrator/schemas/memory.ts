import { z } from 'zod';
import { maxMemoryKeyLength, maxMemoryValueBytes } from '../ports/memory-port.ts';

/** A memory namespace: a tenant's named collection of entries (HLD §3.1 MemoryPort). */
export const MemoryNamespaceSchema = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 . _ -')
  .describe('The namespace: 1-64 characters of A-Z a-z 0-9 . _ -');

/** A memory key: any well-formed Unicode text of 1-256 characters (code points). */
export const MemoryKeySchema = z
  .string()
  .min(1)
  .refine(
    (key) => [...key].length <= maxMemoryKeyLength && key.isWellFormed(),
    `must be 1-${maxMemoryKeyLength} characters of well-formed Unicode`,
  )
  .meta({
    maxLength: maxMemoryKeyLength,
    description:
      'The key: any text of 1-256 characters. In a path it is percent-encoded (`/` as `%2F`, or left as `/`: ' +
      'the key is the rest of the path; a trailing `/` must be encoded).',
  });

/** A memory value: text of at most 64 KiB in UTF-8. */
export const MemoryValueSchema = z
  .string()
  .refine(
    (value) => Buffer.byteLength(value, 'utf8') <= maxMemoryValueBytes,
    `must be at most ${maxMemoryValueBytes} bytes in UTF-8`,
  )
  .describe('The value: text of at most 65536 bytes in UTF-8.');

/** Body of `PUT /v1/memory/{namespace}/{key}`. */
export const PutMemoryEntryRequestSchema = z
  .strictObject({ value: MemoryValueSchema })
  .meta({ id: 'PutMemoryEntryRequest' });

/** A memory entry as the API returns it. */
export const MemoryEntrySchema = z
  .strictObject({
    object: z.literal('memory_entry'),
    namespace: MemoryNamespaceSchema,
    key: z.string(),
    value: z.string(),
    updated_at: z.iso.datetime(),
  })
  .meta({ id: 'MemoryEntry' });

export type MemoryEntryResource = z.infer<typeof MemoryEntrySchema>;

/** A page of `GET /v1/memory/{namespace}`. */
export const MemoryEntryListSchema = z
  .strictObject({
    object: z.literal('list'),
    data: z.array(MemoryEntrySchema),
    next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page.'),
  })
  .meta({ id: 'MemoryEntryList' });

/** One result of a memory search. */
export const MemorySearchHitSchema = z
  .strictObject({
    entry: MemoryEntrySchema,
    score: z.number().nonnegative().describe('BM25 relevance over key and value; higher is better.'),
  })
  .meta({ id: 'MemorySearchHit' });

/** The answer of `GET /v1/memory/{namespace}:search`: the best hits, in one page. */
export const MemorySearchResultSchema = z
  .strictObject({
    object: z.literal('list'),
    data: z.array(MemorySearchHitSchema),
    next_cursor: z.null().describe('Always null: a search answers in one page of at most `limit` hits.'),
  })
  .meta({ id: 'MemorySearchResult' });

const limit = z.coerce
  .number()
  .int()
  .min(1)
  .max(100)
  .optional()
  .describe('Largest page (1-100, default 20).');

/** Query of `GET /v1/memory/{namespace}`. */
export const MemoryListQuerySchema = z.strictObject({
  limit,
  cursor: z.string().min(1).max(1024).optional().describe('The `next_cursor` of the previous page; opaque.'),
});

/** Query of `GET /v1/memory/{namespace}:search`. */
export const MemorySearchQuerySchema = z.strictObject({
  q: z
    .string()
    .min(1)
    .max(1024)
    .describe(
      'The query text: its words (Unicode letters and digits, case-insensitive; at most 32 distinct) are ' +
        'matched against the words of each entry’s key and value.',
    ),
  limit: limit.describe('Most hits to return (1-100, default 20).'),
});
