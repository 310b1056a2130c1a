import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import { assertMemoryNamespace, assertMemoryValue } from '../../ports/memory-port.ts';
import type { MemoryEntry, MemoryPort } from '../../ports/memory-port.ts';

/** MemoryPort held in this process, for the unit tier: the same namespaces and limits as on DynamoDB. */
export class InMemoryMemoryStore implements MemoryPort {
  readonly #entries = new Map<string, MemoryEntry>();
  readonly #now: () => Date;

  constructor(options: { now?: () => Date } = {}) {
    this.#now = options.now ?? (() => new Date());
  }

  async get(auth: AuthContext, namespace: string, key: string): Promise<MemoryEntry | undefined> {
    const entry = this.#entries.get(this.#key(auth, namespace, key));
    return entry === undefined ? undefined : { ...entry };
  }

  async put(auth: AuthContext, namespace: string, key: string, value: string): Promise<MemoryEntry> {
    const id = this.#key(auth, namespace, key);
    assertMemoryValue(value);
    const entry: MemoryEntry = { namespace, key, value, updated_at: this.#now().toISOString() };
    this.#entries.set(id, entry);
    return { ...entry };
  }

  async delete(auth: AuthContext, namespace: string, key: string): Promise<void> {
    this.#entries.delete(this.#key(auth, namespace, key));
  }

  #key(auth: AuthContext, namespace: string, key: string): string {
    assertMemoryNamespace(namespace);
    return JSON.stringify([auth.tenant_id, namespace, key]);
  }
}
