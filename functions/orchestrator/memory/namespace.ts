import { createHash } from 'node:crypto';
import { ConflictError, InvalidRequestError } from '../../shared/errors/agentos-error.ts';
import type { MemoryEntry, MemoryHit } from '../ports/memory-port.ts';
import { Bm25Ranking, entryTokens } from './ranking.ts';

/**
 * What every MemoryPort adapter shares about a namespace (HLD §3.1): where an entry sits in the
 * namespace's order, the opaque list cursor, and how much of a namespace one search reads.
 */

/**
 * How much one search reads. A namespace holding more entries, or more bytes of keys and values, is
 * not searched partly: the search fails with `conflict` naming the bound (see `NamespaceSearch`), and
 * the entries stay readable, listable and deletable.
 */
export type MemorySearchBounds = { maxEntries: number; maxBytes: number };

/** The bounds of a search on every node: 10,000 entries and 16 MiB of keys and values. */
export const memorySearchBounds: MemorySearchBounds = { maxEntries: 10_000, maxBytes: 16 * 1024 * 1024 };

/**
 * Most bytes of entries, as JSON, in one list page or one search answer: well under the 6 MB a
 * buffered Lambda response may carry. A page holds at least one entry, then fewer than `limit` when
 * they would not fit (a list page then has a cursor to the rest).
 */
export const maxPageBytes = 4 * 1024 * 1024;

/**
 * The longest prefix of `items` whose answers (`wire(item)` as JSON) fit in `maxPageBytes`, and never
 * less than one item.
 */
export function withinPageBytes<T>(items: readonly T[], wire: (item: T) => unknown = (item) => item): T[] {
  const page: T[] = [];
  let bytes = 0;
  for (const item of items) {
    bytes += Buffer.byteLength(JSON.stringify(wire(item)), 'utf8');
    if (page.length > 0 && bytes > maxPageBytes) break;
    page.push(item);
  }
  return page;
}

/** Entries whose key hashes alike share this many consecutive sort keys. */
export const slotsPerHash = 16;

/** A 48-bit hash of a key: the first six bytes of its SHA-256. */
export function keyHash48(key: string): number {
  return createHash('sha256').update(key, 'utf8').digest().readUIntBE(0, 6);
}

/**
 * The sort keys an entry may occupy in its namespace's partition: `hash * 16` up to `hash * 16 + 15`
 * (below 2^52, exact as a JavaScript number). Keys whose hashes collide take the next free one.
 */
export function slotRange(hash: number): { first: number; last: number } {
  return { first: hash * slotsPerHash, last: hash * slotsPerHash + slotsPerHash - 1 };
}

/** Where a list page resumes: after sort key `s` (and, where slots are not stored, after key `k`). */
export type MemoryCursor = { s: number; k: string };

/** The opaque form of a cursor. */
export function encodeMemoryCursor(cursor: MemoryCursor): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

/** Reads a cursor from `encodeMemoryCursor`; anything else is `invalid_request`. */
export function decodeMemoryCursor(text: string): MemoryCursor {
  const invalid = (cause?: unknown) =>
    new InvalidRequestError(
      'Invalid cursor',
      [{ field: 'cursor', message: 'not a cursor from a previous page of this list' }],
      { cause },
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch (error) {
    throw invalid(error);
  }
  if (typeof parsed !== 'object' || parsed === null) throw invalid();
  const { s, k } = parsed as Record<string, unknown>;
  if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0 || typeof k !== 'string') throw invalid();
  return { s, k };
}

/**
 * One search over one namespace: entries are added in storage order while the bounds are checked,
 * then ranked by BM25 over key and value.
 */
export class NamespaceSearch {
  readonly #namespace: string;
  readonly #bounds: MemorySearchBounds;
  readonly #ranking: Bm25Ranking<MemoryEntry>;
  #entries = 0;
  #bytes = 0;

  constructor(namespace: string, query: string, bounds: MemorySearchBounds) {
    this.#namespace = namespace;
    this.#bounds = bounds;
    this.#ranking = new Bm25Ranking(query);
  }

  /** False when the query has no word, so nothing can match and the namespace need not be read. */
  get hasTerms(): boolean {
    return this.#ranking.hasTerms;
  }

  /** Adds an entry; throws `conflict` once the namespace is larger than one search reads. */
  add(entry: MemoryEntry): void {
    this.#entries += 1;
    this.#bytes += Buffer.byteLength(entry.key, 'utf8') + Buffer.byteLength(entry.value, 'utf8');
    if (this.#entries > this.#bounds.maxEntries || this.#bytes > this.#bounds.maxBytes) {
      throw new ConflictError(
        `Memory namespace ${this.#namespace} is larger than search covers (at most ${this.#bounds.maxEntries} ` +
          `entries and ${this.#bounds.maxBytes} bytes of keys and values); delete entries or spread them ` +
          'over more namespaces',
        {
          details: {
            namespace: this.#namespace,
            max_entries: this.#bounds.maxEntries,
            max_bytes: this.#bounds.maxBytes,
          },
        },
      );
    }
    this.#ranking.add(entry, entryTokens(entry.key, entry.value), entry.key);
  }

  /** The matching entries, best first (ties by key), at most `limit` and within `maxPageBytes`. */
  hits(limit: number): MemoryHit[] {
    return withinPageBytes(this.#ranking.ranked(limit).map(({ item, score }) => ({ entry: item, score })));
  }
}
