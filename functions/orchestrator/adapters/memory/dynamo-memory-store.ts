import { createHash } from 'node:crypto';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import { ConflictError } from '../../../shared/errors/agentos-error.ts';
import { isConditionFailure, storageUnavailable } from '../../../shared/storage/dynamo-errors.ts';
import { recordSortKey, storageKeys } from '../../../shared/storage/keys.ts';
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

type StoredItem = MemoryEntry & { sk: number };

/** Attempts of a put that loses races for a free slot to other keys of the same hash. */
const maxPutAttempts = 4;

const names = { '#key': 'key', '#value': 'value', '#ns': 'namespace', '#updated': 'updated_at' };
const entryProjection = 'sk, #key, #value, #ns, #updated';

/**
 * MemoryPort on the node's table (HLD §3.1, §4.2). Each namespace of a tenant is one partition,
 * `pk = tenant/{tenant_id}/memory/{namespace}`, so it can be listed and searched with a query; an
 * entry is one item in it whose `sk` comes from a 48-bit hash of its key (`hash * 16`, see
 * memory/namespace.ts). Keys whose hashes collide take the next of the 16 sort keys of that hash,
 * so get, put and delete read one narrow `sk` range (nearly always one item) and write one item.
 *
 * Search reads the whole partition (consistent reads, pages of at most 1 MB) up to the search
 * bounds (10,000 entries, 16 MiB of keys and values); a larger namespace fails the search with
 * `conflict` instead of ranking part of it.
 *
 * Entries written before namespaces had a partition (`tenant/{t}/memory/{namespace}/{sha256(key)}`,
 * `sk` 0) are migrated on read: a `get` that misses looks there, moves the entry into the namespace
 * and returns it; `delete` removes both. Until read, such an entry is not listed or searched.
 */
export class DynamoMemoryStore implements MemoryPort {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly now: () => Date;
  private readonly hash: (key: string) => number;
  private readonly bounds: MemorySearchBounds;

  /**
   * `now` stamps `updated_at`; `keyHash` (a 48-bit integer per key) and `searchBounds` exist for
   * tests (forced collisions, small bounds). The real clock, SHA-256 and the node's bounds otherwise.
   */
  constructor(
    db: DynamoDBDocumentClient,
    tableName: string,
    options: { now?: () => Date; keyHash?: (key: string) => number; searchBounds?: MemorySearchBounds } = {},
  ) {
    this.db = db;
    this.tableName = tableName;
    this.now = options.now ?? (() => new Date());
    this.hash = options.keyHash ?? keyHash48;
    this.bounds = options.searchBounds ?? memorySearchBounds;
  }

  async get(auth: AuthContext, namespace: string, key: string): Promise<MemoryEntry | undefined> {
    const pk = this.partition(auth, namespace);
    assertMemoryKey(key);
    const found = newest((await this.slots(pk, key)).filter((item) => item.key === key));
    if (found !== undefined) return entryOf(found);
    return this.migrateLegacy(auth, pk, namespace, key);
  }

  async put(auth: AuthContext, namespace: string, key: string, value: string): Promise<MemoryEntry> {
    const pk = this.partition(auth, namespace);
    assertMemoryKey(key);
    assertMemoryValue(value);
    const entry: MemoryEntry = { namespace, key, value, updated_at: this.now().toISOString() };
    await this.write(pk, entry, 'replace');
    return entry;
  }

  async delete(auth: AuthContext, namespace: string, key: string): Promise<void> {
    const pk = this.partition(auth, namespace);
    assertMemoryKey(key);
    for (const item of (await this.slots(pk, key)).filter((stored) => stored.key === key)) {
      try {
        await this.db.send(
          new DeleteCommand({
            TableName: this.tableName,
            Key: { pk, sk: item.sk },
            ConditionExpression: '#key = :key',
            ExpressionAttributeNames: { '#key': 'key' },
            ExpressionAttributeValues: { ':key': key },
          }),
        );
      } catch (error) {
        // The slot now holds another key of the same hash: this key's entry is gone already.
        if (!isConditionFailure(error)) throw storageUnavailable(error);
      }
    }
    try {
      await this.db.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { pk: legacyKey(auth, namespace, key), sk: recordSortKey },
        }),
      );
    } catch (error) {
      throw storageUnavailable(error);
    }
  }

  async search(
    auth: AuthContext,
    namespace: string,
    query: string,
    options: { limit: number },
  ): Promise<MemoryHit[]> {
    const pk = this.partition(auth, namespace);
    const search = new NamespaceSearch(namespace, query, this.bounds);
    if (!search.hasTerms) return [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.query(this.entriesQuery(pk, start));
      for (const item of page.items) search.add(entryOf(item));
      start = page.next;
    } while (start !== undefined);
    return search.hits(options.limit);
  }

  async list(
    auth: AuthContext,
    namespace: string,
    page: { limit: number; cursor?: string },
  ): Promise<{ entries: MemoryEntry[]; nextCursor: string | null }> {
    const pk = this.partition(auth, namespace);
    const limit = Math.max(1, page.limit);
    const after = page.cursor === undefined ? undefined : decodeMemoryCursor(page.cursor);
    const items: StoredItem[] = [];
    let start: Record<string, unknown> | undefined = after === undefined ? undefined : { pk, sk: after.s };
    // Until one more than fits the page (so it is known whether another page follows): at most
    // `limit + 1` items, and one query page (1 MB) beyond `maxPageBytes`.
    do {
      const read = await this.query(this.entriesQuery(pk, start, limit + 1 - items.length));
      items.push(...read.items);
      start = read.next;
    } while (
      start !== undefined &&
      items.length <= limit &&
      withinPageBytes(items, entryOf).length === items.length
    );
    const chosen = withinPageBytes(items.slice(0, limit), entryOf);
    const last = chosen.at(-1);
    return {
      entries: chosen.map(entryOf),
      nextCursor:
        items.length > chosen.length && last !== undefined
          ? encodeMemoryCursor({ s: last.sk, k: last.key })
          : null,
    };
  }

  /** A consistent read of a namespace's entries from `start`, at most `limit` of them when given. */
  private entriesQuery(pk: string, start: Record<string, unknown> | undefined, limit?: number) {
    return {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': pk },
      ProjectionExpression: entryProjection,
      ExpressionAttributeNames: names,
      ConsistentRead: true,
      ExclusiveStartKey: start,
      ...(limit === undefined ? {} : { Limit: limit }),
    };
  }

  private partition(auth: AuthContext, namespace: string): string {
    assertMemoryNamespace(namespace);
    return storageKeys.memoryNamespace(auth.tenant_id, namespace);
  }

  /** The items in the sort keys `key` may occupy (its own and those of keys with the same hash). */
  private async slots(pk: string, key: string): Promise<StoredItem[]> {
    const { first, last } = slotRange(this.hash(key));
    const read = await this.query({
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :last',
      ExpressionAttributeValues: { ':pk': pk, ':first': first, ':last': last },
      ProjectionExpression: entryProjection,
      ExpressionAttributeNames: names,
      ConsistentRead: true,
    });
    return read.items;
  }

  /**
   * Writes `entry` into its key's slot, or into the first free slot of its hash. `replace` overwrites
   * the key's entry; `absent` leaves an entry already there alone (and returns it).
   */
  private async write(pk: string, entry: MemoryEntry, mode: 'replace' | 'absent'): Promise<MemoryEntry> {
    for (let attempt = 1; attempt <= maxPutAttempts; attempt += 1) {
      const items = await this.slots(pk, entry.key);
      const existing = newest(items.filter((item) => item.key === entry.key));
      if (existing !== undefined && mode === 'absent') return entryOf(existing);
      const { first, last } = slotRange(this.hash(entry.key));
      const taken = new Set(items.map((item) => item.sk));
      let sk = existing?.sk;
      for (let candidate = first; sk === undefined && candidate <= last; candidate += 1) {
        if (!taken.has(candidate)) sk = candidate;
      }
      if (sk === undefined) {
        throw new ConflictError('Too many memory keys in this namespace share a hash with this key');
      }
      try {
        await this.db.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { pk, sk, kind: 'memory', ...entry },
            // A free slot stays free until this write, or holds this very key (a concurrent put of it).
            ConditionExpression:
              mode === 'replace' ? 'attribute_not_exists(pk) OR #key = :key' : 'attribute_not_exists(pk)',
            ...(mode === 'replace'
              ? {
                  ExpressionAttributeNames: { '#key': 'key' },
                  ExpressionAttributeValues: { ':key': entry.key },
                }
              : {}),
          }),
        );
        return entry;
      } catch (error) {
        // Another key of the same hash took the slot first: read the slots again and retry.
        if (!isConditionFailure(error)) throw storageUnavailable(error);
      }
    }
    throw new ConflictError('Memory writes of keys sharing a hash kept conflicting; retry');
  }

  /** A get's miss: the entry under its pre-partition key, moved into the namespace, if any. */
  private async migrateLegacy(
    auth: AuthContext,
    pk: string,
    namespace: string,
    key: string,
  ): Promise<MemoryEntry | undefined> {
    const oldKey = { pk: legacyKey(auth, namespace, key), sk: recordSortKey };
    let item: Record<string, unknown> | undefined;
    try {
      item = (
        await this.db.send(new GetCommand({ TableName: this.tableName, Key: oldKey, ConsistentRead: true }))
      ).Item;
    } catch (error) {
      throw storageUnavailable(error);
    }
    if (item === undefined) return undefined;
    const legacy = item as unknown as MemoryEntry;
    // A put that raced this read wins: `absent` keeps its newer entry.
    const moved = await this.write(
      pk,
      { namespace, key, value: legacy.value, updated_at: legacy.updated_at },
      'absent',
    );
    try {
      await this.db.send(new DeleteCommand({ TableName: this.tableName, Key: oldKey }));
    } catch (error) {
      throw storageUnavailable(error);
    }
    return moved;
  }

  private async query(
    input: ConstructorParameters<typeof QueryCommand>[0],
  ): Promise<{ items: StoredItem[]; next: Record<string, unknown> | undefined }> {
    try {
      const result = await this.db.send(new QueryCommand(input));
      return { items: (result.Items ?? []) as StoredItem[], next: result.LastEvaluatedKey };
    } catch (error) {
      throw storageUnavailable(error);
    }
  }
}

/** Where `key` lived before namespaces had one partition. */
function legacyKey(auth: AuthContext, namespace: string, key: string): string {
  return storageKeys.legacyMemory(auth.tenant_id, namespace, createHash('sha256').update(key).digest('hex'));
}

/** The latest of the items (two only when concurrent first puts of one key chose different slots). */
function newest(items: StoredItem[]): StoredItem | undefined {
  return items.reduce<StoredItem | undefined>(
    (best, item) => (best === undefined || item.updated_at > best.updated_at ? item : best),
    undefined,
  );
}

function entryOf(item: MemoryEntry): MemoryEntry {
  return { namespace: item.namespace, key: item.key, value: item.value, updated_at: item.updated_at };
}
