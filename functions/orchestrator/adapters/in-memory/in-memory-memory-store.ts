import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import { storageKeys } from '../../../shared/storage/keys.ts';
import {
  NamespaceSearch,
  decodeMemoryCursor,
  encodeMemoryCursor,
  keyHash48,
  memorySearchBounds,
  slotRange,
  withinPageBytes,
} from '../../memory/namespace.ts';
import type { MemorySearchBounds } from '../../memory/namespace.ts';
import { assertMemoryKey, assertMemoryNamespace, assertMemoryValue } from '../../ports/memory-port.ts';
import type { MemoryEntry, MemoryHit, MemoryPort } from '../../ports/memory-port.ts';

type Stored = { entry: MemoryEntry; sortKey: number };

/**
 * MemoryPort held in one process's memory, for the unit tier and single-process use only (nothing
 * is shared between processes or survives a restart). Namespaces are keyed as on DynamoDB (one per
 * tenant and namespace, through the same storage keys) and ordered the same way (by a hash of the
 * key), with the same key, value and search bounds; `now` stamps `updated_at`. Entries are copied in
 * and out.
 */
export class InMemoryMemoryStore implements MemoryPort {
  readonly #namespaces = new Map<string, Map<string, Stored>>();
  readonly #now: () => Date;
  readonly #bounds: MemorySearchBounds;

  /** `searchBounds` lowers how much one search reads (tests); the node's bounds otherwise. */
  constructor(options: { now?: () => Date; searchBounds?: MemorySearchBounds } = {}) {
    this.#now = options.now ?? (() => new Date());
    this.#bounds = options.searchBounds ?? memorySearchBounds;
  }

  async get(auth: AuthContext, namespace: string, key: string): Promise<MemoryEntry | undefined> {
    assertMemoryKey(key);
    const stored = this.#namespace(auth, namespace).get(key);
    return stored === undefined ? undefined : structuredClone(stored.entry);
  }

  async put(auth: AuthContext, namespace: string, key: string, value: string): Promise<MemoryEntry> {
    const entries = this.#namespace(auth, namespace);
    assertMemoryKey(key);
    assertMemoryValue(value);
    const entry: MemoryEntry = { namespace, key, value, updated_at: this.#now().toISOString() };
    entries.set(key, { entry, sortKey: slotRange(keyHash48(key)).first });
    return structuredClone(entry);
  }

  async delete(auth: AuthContext, namespace: string, key: string): Promise<void> {
    assertMemoryKey(key);
    this.#namespace(auth, namespace).delete(key);
  }

  async search(
    auth: AuthContext,
    namespace: string,
    query: string,
    options: { limit: number },
  ): Promise<MemoryHit[]> {
    const search = new NamespaceSearch(namespace, query, this.#bounds);
    if (!search.hasTerms) return [];
    for (const stored of this.#ordered(this.#namespace(auth, namespace))) search.add(stored.entry);
    return structuredClone(search.hits(options.limit));
  }

  async list(
    auth: AuthContext,
    namespace: string,
    page: { limit: number; cursor?: string },
  ): Promise<{ entries: MemoryEntry[]; nextCursor: string | null }> {
    const entries = this.#namespace(auth, namespace);
    const after = page.cursor === undefined ? undefined : decodeMemoryCursor(page.cursor);
    const rest = this.#ordered(entries).filter(
      (stored) =>
        after === undefined ||
        stored.sortKey > after.s ||
        (stored.sortKey === after.s && stored.entry.key > after.k),
    );
    const chosen = withinPageBytes(rest.slice(0, Math.max(1, page.limit)), (stored) => stored.entry);
    const last = chosen.at(-1);
    return {
      entries: chosen.map((stored) => structuredClone(stored.entry)),
      nextCursor:
        rest.length > chosen.length && last !== undefined
          ? encodeMemoryCursor({ s: last.sortKey, k: last.entry.key })
          : null,
    };
  }

  /** The entries of one tenant's namespace (created empty on first use, never shared with another tenant). */
  #namespace(auth: AuthContext, namespace: string): Map<string, Stored> {
    assertMemoryNamespace(namespace);
    const id = storageKeys.memoryNamespace(auth.tenant_id, namespace);
    let entries = this.#namespaces.get(id);
    if (entries === undefined) {
      entries = new Map();
      this.#namespaces.set(id, entries);
    }
    return entries;
  }

  /** Storage order: by sort key, then by key. */
  #ordered(entries: Map<string, Stored>): Stored[] {
    return [...entries.values()].sort(
      (a, b) => a.sortKey - b.sortKey || (a.entry.key < b.entry.key ? -1 : a.entry.key > b.entry.key ? 1 : 0),
    );
  }
}
