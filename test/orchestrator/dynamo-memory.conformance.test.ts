import { createHash } from 'node:crypto';
import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoMemoryStore } from '../../functions/orchestrator/adapters/memory/dynamo-memory-store.ts';
import type { AuthContext } from '../../functions/shared/auth/auth-context.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { storageKeys } from '../../functions/shared/storage/keys.ts';
import { memoryPortConformance } from '../conformance/memory-port.case.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';

const table = provisionTestNode('memory').then(({ resources }) => resources.tableName);
const db = createDocumentClient(testAwsConfig());

memoryPortConformance('DynamoDB', async (options = {}) => new DynamoMemoryStore(db, await table, options));

const authFor = (tenant: string): AuthContext => ({
  tenant_id: tenant,
  principal: { id: 'p', type: 'user' },
  scopes: [],
  policy_context: {},
});
const tenant = () => `d${crypto.randomUUID().slice(0, 8)}`;

async function itemsOf(tenantId: string, namespace: string) {
  const result = await db.send(
    new QueryCommand({
      TableName: await table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': storageKeys.memoryNamespace(tenantId, namespace) },
    }),
  );
  return result.Items ?? [];
}

describe('DynamoMemoryStore layout', () => {
  it('stores a namespace as one partition of items, one per entry, with numeric sort keys', async () => {
    const store = new DynamoMemoryStore(db, await table);
    const id = tenant();
    await store.put(authFor(id), 'notes', 'a', 'one');
    await store.put(authFor(id), 'notes', 'b', 'two');
    await store.put(authFor(id), 'notes', 'a', 'one again');
    const items = await itemsOf(id, 'notes');
    expect(items).toHaveLength(2);
    expect(items.every((item) => Number.isSafeInteger(item['sk']))).toBe(true);
    expect(items.map((item) => item['key']).sort()).toEqual(['a', 'b']);
  });

  it('returns every entry whose key hashes like another, through get, put, delete, list and search', async () => {
    // Every key hashes alike: all of them share the 16 sort keys of one hash.
    const store = new DynamoMemoryStore(db, await table, { keyHash: () => 42 });
    const auth = authFor(tenant());
    const keys = Array.from({ length: 16 }, (_, i) => `key-${i}`);
    for (const key of keys) await store.put(auth, 'notes', key, `value ${key}`);
    for (const key of keys) expect((await store.get(auth, 'notes', key))?.value).toBe(`value ${key}`);
    await store.delete(auth, 'notes', 'key-3');
    await store.put(auth, 'notes', 'key-5', 'changed');
    await store.put(auth, 'notes', 'late', 'takes the freed sort key');
    expect(await store.get(auth, 'notes', 'key-3')).toBeUndefined();
    expect((await store.get(auth, 'notes', 'key-5'))?.value).toBe('changed');
    expect((await store.get(auth, 'notes', 'late'))?.value).toBe('takes the freed sort key');
    const listed = (await store.list(auth, 'notes', { limit: 100 })).entries.map((entry) => entry.key);
    expect(listed.sort()).toEqual([...keys.filter((key) => key !== 'key-3'), 'late'].sort());
    expect((await store.search(auth, 'notes', 'freed', { limit: 5 })).map((hit) => hit.entry.key)).toEqual([
      'late',
    ]);
    await expect(store.put(auth, 'notes', 'one too many', 'v')).rejects.toMatchObject({ code: 'conflict' });
  });

  it('returns an entry stored under the old per-key layout and moves it into its namespace', async () => {
    const tableName = await table;
    const store = new DynamoMemoryStore(db, tableName);
    const id = tenant();
    const auth = authFor(id);
    const legacyPk = storageKeys.legacyMemory(
      id,
      'agents',
      createHash('sha256').update('fact').digest('hex'),
    );
    const legacy = {
      namespace: 'agents',
      key: 'fact',
      value: 'the sky is blue',
      updated_at: '2025-01-01T00:00:00.000Z',
    };
    await db.send(
      new PutCommand({ TableName: tableName, Item: { pk: legacyPk, sk: 0, kind: 'memory', ...legacy } }),
    );
    expect(await store.search(auth, 'agents', 'sky', { limit: 5 })).toEqual([]);
    expect(await store.get(auth, 'agents', 'fact')).toEqual(legacy);
    expect(
      (await db.send(new GetCommand({ TableName: tableName, Key: { pk: legacyPk, sk: 0 } }))).Item,
    ).toBeUndefined();
    expect((await store.search(auth, 'agents', 'sky', { limit: 5 })).map((hit) => hit.entry)).toEqual([
      legacy,
    ]);
    expect(await store.get(auth, 'agents', 'fact')).toEqual(legacy);
  });

  it('deletes an entry still under the old layout, so it does not come back', async () => {
    const tableName = await table;
    const store = new DynamoMemoryStore(db, tableName);
    const id = tenant();
    const auth = authFor(id);
    const legacyPk = storageKeys.legacyMemory(id, 'agents', createHash('sha256').update('old').digest('hex'));
    await db.send(
      new PutCommand({
        TableName: tableName,
        Item: {
          pk: legacyPk,
          sk: 0,
          kind: 'memory',
          namespace: 'agents',
          key: 'old',
          value: 'v',
          updated_at: '2025-01-01T00:00:00.000Z',
        },
      }),
    );
    await store.delete(auth, 'agents', 'old');
    expect(await store.get(auth, 'agents', 'old')).toBeUndefined();
    // Another tenant's identical old item is not reachable from this tenant.
    expect(await store.get(authFor(tenant()), 'agents', 'old')).toBeUndefined();
  });

  it('reads pages of a namespace larger than one DynamoDB page when searching and listing', async () => {
    const store = new DynamoMemoryStore(db, await table);
    const auth = authFor(tenant());
    // 20 entries of 60 KiB: about 1.2 MB, more than one query page.
    for (let i = 0; i < 20; i += 1) {
      await store.put(auth, 'big', `k${i}`, `${i === 13 ? 'needle ' : ''}${'hay '.repeat(15 * 1024)}`);
    }
    expect((await store.search(auth, 'big', 'needle', { limit: 5 })).map((hit) => hit.entry.key)).toEqual([
      'k13',
    ]);
    const page = await store.list(auth, 'big', { limit: 20 });
    expect(page.entries).toHaveLength(20);
    expect(page.nextCursor).toBeNull();
  });
});
