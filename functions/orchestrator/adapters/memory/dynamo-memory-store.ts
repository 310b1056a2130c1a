import { createHash } from 'node:crypto';
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import { InvalidRequestError } from '../../../shared/errors/agentos-error.ts';
import { storageUnavailable } from '../../../shared/storage/dynamo-errors.ts';
import { recordSortKey, storageKeys } from '../../../shared/storage/keys.ts';
import type { MemoryEntry, MemoryPort } from '../../ports/memory-port.ts';

/** Largest value an entry may hold (well under DynamoDB's 400 KB item limit). */
export const maxMemoryValueBytes = 64 * 1024;

const namespacePattern = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * MemoryPort on the node's table: `tenant/{tenant_id}/memory/{namespace}/{sha256(key)}`. Keys are
 * hashed so any string is a valid key; the key itself is stored with the value.
 */
export class DynamoMemoryStore implements MemoryPort {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.db = db;
    this.tableName = tableName;
  }

  private pk(auth: AuthContext, namespace: string, key: string): string {
    if (!namespacePattern.test(namespace)) {
      throw new InvalidRequestError('Invalid memory namespace', [
        { field: 'namespace', message: '1-64 characters of A-Z a-z 0-9 . _ -' },
      ]);
    }
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
    if (Buffer.byteLength(value, 'utf8') > maxMemoryValueBytes) {
      throw new InvalidRequestError(`Memory values are at most ${maxMemoryValueBytes} bytes`, [
        { field: 'value', message: 'too large' },
      ]);
    }
    const entry: MemoryEntry = { namespace, key, value, updated_at: new Date().toISOString() };
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
