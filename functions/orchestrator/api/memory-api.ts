import { z } from 'zod';
import { scopes } from '../../shared/auth/auth-context.ts';
import { defineRoute } from '../../shared/http/route-spec.ts';
import { maxMemoryValueBytes } from '../ports/memory-port.ts';
import {
  MemoryEntryListSchema,
  MemoryEntrySchema,
  MemoryKeySchema,
  MemoryListQuerySchema,
  MemoryNamespaceSchema,
  MemorySearchQuerySchema,
  MemorySearchResultSchema,
  PutMemoryEntryRequestSchema,
} from '../schemas/memory.ts';

/**
 * The memory routes of the Orchestrator API (HLD §2.1, §3.1 MemoryPort): key-value entries in a
 * tenant's namespaces, listed page by page and searched by relevance (BM25 over key and value).
 * Nothing crosses tenants: another tenant's entry is answered like an absent one.
 */

/**
 * Largest `PUT` body: a value of 64 KiB even when JSON escapes every byte (`\u00XX`), plus the
 * envelope. The value itself is checked in UTF-8 bytes.
 */
export const maxPutMemoryBytes = 6 * maxMemoryValueBytes + 1024;

const NamespacePathSchema = z.strictObject({ namespace: MemoryNamespaceSchema });
const EntryPathSchema = z.strictObject({ namespace: MemoryNamespaceSchema, key: MemoryKeySchema });

const invalidPath = 'invalid_request: an invalid namespace or key';
const unavailable = { description: 'dependency_unavailable: memory storage could not be reached; retry.' };
const noEntry = {
  description:
    'not_found: no entry under this key in this tenant’s namespace (another tenant’s is never revealed).',
};

export const putMemoryEntry = defineRoute({
  operationId: 'putMemoryEntry',
  method: 'PUT',
  path: '/v1/memory/{namespace}/{key+}',
  scope: scopes.memoryWrite,
  tags: ['Memory'],
  summary: 'Store a value under a key',
  description:
    'Creates the entry or replaces its value. The namespace exists as soon as it holds an entry. A search reads ' +
    'at most 10,000 entries and 16 MiB of keys and values of one namespace; keep namespaces within that.',
  request: { params: EntryPathSchema, body: PutMemoryEntryRequestSchema, maxBodyBytes: maxPutMemoryBytes },
  responses: {
    200: {
      description: 'The entry as stored.',
      content: { 'application/json': { schema: MemoryEntrySchema } },
    },
    400: { description: `${invalidPath}, or a value over 64 KiB, malformed JSON or an unknown field.` },
    409: {
      description:
        'conflict: too many keys of this namespace share this key’s hash (practically never); retry.',
    },
    503: unavailable,
  },
});

export const getMemoryEntry = defineRoute({
  operationId: 'getMemoryEntry',
  method: 'GET',
  path: '/v1/memory/{namespace}/{key+}',
  scope: scopes.memoryRead,
  tags: ['Memory'],
  summary: 'Read the entry under a key',
  request: { params: EntryPathSchema },
  responses: {
    200: { description: 'The entry.', content: { 'application/json': { schema: MemoryEntrySchema } } },
    400: { description: `${invalidPath}.` },
    404: noEntry,
    503: unavailable,
  },
});

export const deleteMemoryEntry = defineRoute({
  operationId: 'deleteMemoryEntry',
  method: 'DELETE',
  path: '/v1/memory/{namespace}/{key+}',
  scope: scopes.memoryWrite,
  tags: ['Memory'],
  summary: 'Delete the entry under a key',
  request: { params: EntryPathSchema },
  responses: {
    204: { description: 'The entry is gone.' },
    400: { description: `${invalidPath}.` },
    404: noEntry,
    503: unavailable,
  },
});

export const listMemoryEntries = defineRoute({
  operationId: 'listMemoryEntries',
  method: 'GET',
  path: '/v1/memory/{namespace}',
  scope: scopes.memoryRead,
  tags: ['Memory'],
  summary: 'List a namespace’s entries',
  description:
    'Every entry once across pages, in a stable order (by a hash of the key, not alphabetical); entries added ' +
    'or removed meanwhile do not shift the others. A page carries at most 4 MiB of entries: fewer than `limit` ' +
    'when they would not fit, with `next_cursor` to the rest. An empty or unknown namespace is an empty list.',
  request: { params: NamespacePathSchema, query: MemoryListQuerySchema },
  responses: {
    200: {
      description: 'One page of entries.',
      content: { 'application/json': { schema: MemoryEntryListSchema } },
    },
    400: { description: 'invalid_request: an invalid namespace, limit or cursor.' },
    503: unavailable,
  },
});

export const searchMemory = defineRoute({
  operationId: 'searchMemory',
  method: 'GET',
  path: '/v1/memory/{namespace}:search',
  scope: scopes.memoryRead,
  tags: ['Memory'],
  summary: 'Search a namespace by relevance',
  description:
    'Ranks the namespace’s entries by BM25 (k1 1.2, b 0.75) over the words of key and value (Unicode letters and ' +
    'digits, case-insensitive; the first 8,192 words of an entry count), best first, ties by key. Entries ' +
    'matching no word of `q` are left out. One search reads at most 10,000 entries and 16 MiB of keys and ' +
    'values: a larger namespace is answered 409 conflict, never ranked in part. An answer carries at most ' +
    '4 MiB of entries: fewer than `limit` hits when the best ones are large.',
  request: { params: NamespacePathSchema, query: MemorySearchQuerySchema },
  responses: {
    200: {
      description: 'The best hits, in one page.',
      content: { 'application/json': { schema: MemorySearchResultSchema } },
    },
    400: { description: 'invalid_request: an invalid namespace, `q` or limit.' },
    409: {
      description:
        'conflict: the namespace holds more than one search reads (details: max_entries, max_bytes); delete ' +
        'entries or spread them over more namespaces.',
    },
    503: unavailable,
  },
});

/** Every memory route, in document order. */
export const memoryRoutes = [
  putMemoryEntry,
  getMemoryEntry,
  deleteMemoryEntry,
  listMemoryEntries,
  searchMemory,
] as const;
