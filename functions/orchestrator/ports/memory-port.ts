import type { AuthContext } from '../../shared/auth/auth-context.ts';
import { InvalidRequestError } from '../../shared/errors/agentos-error.ts';

/** Largest value an entry may hold (well under DynamoDB's 400 KB item limit), on every adapter. */
export const maxMemoryValueBytes = 64 * 1024;

const namespacePattern = /^[A-Za-z0-9._-]{1,64}$/;

/** Throws the port's `invalid_request` for a namespace every adapter refuses. */
export function assertMemoryNamespace(namespace: string): void {
  if (!namespacePattern.test(namespace)) {
    throw new InvalidRequestError('Invalid memory namespace', [
      { field: 'namespace', message: '1-64 characters of A-Z a-z 0-9 . _ -' },
    ]);
  }
}

/** Longest key, in characters (Unicode code points). */
export const maxMemoryKeyLength = 256;

/** Throws the port's `invalid_request` for a key every adapter refuses: empty, too long, or not well-formed Unicode. */
export function assertMemoryKey(key: string): void {
  const length = [...key].length;
  if (length === 0 || length > maxMemoryKeyLength || !key.isWellFormed()) {
    throw new InvalidRequestError('Invalid memory key', [
      { field: 'key', message: `1-${maxMemoryKeyLength} characters of well-formed Unicode` },
    ]);
  }
}

/** Throws the port's `invalid_request` for a value every adapter refuses. */
export function assertMemoryValue(value: string): void {
  if (Buffer.byteLength(value, 'utf8') > maxMemoryValueBytes) {
    throw new InvalidRequestError(`Memory values are at most ${maxMemoryValueBytes} bytes`, [
      { field: 'value', message: 'too large' },
    ]);
  }
}

/** A stored memory entry. */
export type MemoryEntry = { namespace: string; key: string; value: string; updated_at: string };

/** A search result: the entry and its lexical relevance (higher is better). */
export type MemoryHit = { entry: MemoryEntry; score: number };

/**
 * Tenant-namespaced memory for agents (HLD §3.1 MemoryPort): key-value plus ranked lexical search
 * (BM25 over keys and values) within one namespace of one tenant. Nothing crosses tenants.
 */
export interface MemoryPort {
  get(auth: AuthContext, namespace: string, key: string): Promise<MemoryEntry | undefined>;
  put(auth: AuthContext, namespace: string, key: string, value: string): Promise<MemoryEntry>;
  delete(auth: AuthContext, namespace: string, key: string): Promise<void>;
  /** Entries of the namespace ranked by relevance to `query`, best first; entries matching no term are left out. */
  search(
    auth: AuthContext,
    namespace: string,
    query: string,
    options: { limit: number },
  ): Promise<MemoryHit[]>;
  /**
   * Entries of the namespace in a stable order (by a hash of the key, not alphabetical: entries added
   * or removed meanwhile do not shift the others); `cursor` is opaque and comes from the previous page.
   */
  list(
    auth: AuthContext,
    namespace: string,
    page: { limit: number; cursor?: string },
  ): Promise<{ entries: MemoryEntry[]; nextCursor: string | null }>;
}
