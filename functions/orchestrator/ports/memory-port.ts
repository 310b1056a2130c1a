import type { AuthContext } from '../../shared/auth/auth-context.ts';

/** A stored memory entry. */
export type MemoryEntry = { namespace: string; key: string; value: string; updated_at: string };

/** Tenant-namespaced key-value memory for agents (HLD §3.1 MemoryPort; search comes with the agent runtime). */
export interface MemoryPort {
  get(auth: AuthContext, namespace: string, key: string): Promise<MemoryEntry | undefined>;
  put(auth: AuthContext, namespace: string, key: string, value: string): Promise<MemoryEntry>;
  delete(auth: AuthContext, namespace: string, key: string): Promise<void>;
}
