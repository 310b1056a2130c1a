import { createHash } from 'node:crypto';
import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import { storageKeys } from '../../../shared/storage/keys.ts';
import { assertMemoryNamespace, assertMemoryValue } from '../../ports/memory-port.ts';
import type { MemoryEntry, MemoryPort } from '../../ports/memory-port.ts';

/**
 * MemoryPort held in one process's memory, for the unit tier and single-process use only (nothing
 * is shared between processes or survives a restart). Entries are keyed as on DynamoDB (tenant,
 * namespace and a hash of the key, through the same storage keys), with the same namespace and value
 * limits; `now` stamps `updated_at`. Entries are copied in and out.
 */
export class InMemoryMemoryStore implements MemoryPort {
  readonly #entries = new Map<string, MemoryEntry>();
  readonly #now: () => Date;

  constructor(options: { now?: () => Date } = {}) {
    this.#now = options.now ?? (() => new Date());
  }

  async get(auth: AuthContext, namespace: string, key: string): Promise<MemoryEntry | undefined> {
    const entry = this.#entries.get(this.#key(auth, namespace, key));
    return entry === undefined ? undefined : structuredClone(entry);
  }

  async put(auth: AuthContext, namespace: string, key: string, value: string): Promise<MemoryEntry> {
    const id = this.#key(auth, namespace, key);
    assertMemoryValue(value);
    const entry: MemoryEntry = { namespace, key, value, updated_at: this.#now().toISOString() };
    this.#entries.set(id, entry);
    return structuredClone(entry);
  }

  async delete(auth: AuthContext, namespace: string, key: string): Promise<void> {
    this.#entries.delete(this.#key(auth, namespace, key));
  }

  #key(auth: AuthContext, namespace: string, key: string): string {
    assertMemoryNamespace(namespace);
    return storageKeys.memory(auth.tenant_id, namespace, createHash('sha256').update(key).digest('hex'));
  }
}
