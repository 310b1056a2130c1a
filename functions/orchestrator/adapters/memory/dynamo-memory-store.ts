import { createHash } from 'node:crypto';
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import { storageUnavailable } from '../../../shared/storage/dynamo-errors.ts';
import { recordSortKey, storageKeys } from '../../../shared/storage/keys.ts';
import { assertMemoryNamespace, assertMemoryValue } from '../../ports/memory-port.ts';
import type { MemoryEntry, MemoryPort } from '../../ports/memory-port.ts';

/**
 * MemoryPort on the node's table: `tenant/{tenant_id}/memory/{namespace}/{sha256(key)}`. Keys are
 * hashed so any string is a valid key; the key itself is stored with the value.
 */
export class DynamoMemoryStore implements MemoryPort {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;

  private readonly now: () => Date;

  /** `now` stamps `updated_at`; the real clock unless a test injects one. */
  constructor(db: DynamoDBDocumentClient, tableName: string, options: { now?: () => Date } = {}) {
    this.db = db;
    this.tableName = tableName;
    this.now = options.now ?? (() => new Date());
  }

  private pk(auth: AuthContext, namespace: string, key: string): string {
    assertMemoryNamespace(namespace);
    return storageKeys.memory(auth.tenant_id, namespace, createHash('sha256').update(key).digest('hex'));
  }

  async get(auth: AuthContext, namespace: string, key: string): Promise<MemoryEntry | undefined> {
    const pk = this.pk(auth, namespace, key);
    try {
      const result = await this.db.send(
        new GetCommand({ TableName: this.tableName, Key: { pk, sk: recordSortKey }, ConsistentRead: true }),
      );
      if (result.Item === undefined) return undefined;
      const item = result.Item as MemoryEntry;
      return { namespace: item.namespace, key: item.key, value: item.value, updated_at: item.updated_at };
    } catch (error) {
      throw storageUnavailable(error);
    }
  }

  async put(auth: AuthContext, namespace: string, key: string, value: string): Promise<MemoryEntry> {
    const pk = this.pk(auth, namespace, key);
    assertMemoryValue(value);
    const entry: MemoryEntry = { namespace, key, value, updated_at: this.now().toISOString() };
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk, sk: recordSortKey, kind: 'memory', ...entry },
        }),
      );
      return entry;
    } catch (error) {
      throw storageUnavailable(error);
    }
  }

  async delete(auth: AuthContext, namespace: string, key: string): Promise<void> {
    const pk = this.pk(auth, namespace, key);
    try {
      await this.db.send(new DeleteCommand({ TableName: this.tableName, Key: { pk, sk: recordSortKey } }));
    } catch (error) {
      throw storageUnavailable(error);
    }
  }
}
