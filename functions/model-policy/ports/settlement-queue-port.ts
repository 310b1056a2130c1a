import type { CallSettlement } from './ledger-port.ts';

/**
 * Where a model call's settlement goes when the ledger would not take it (HLD §5.3): a durable
 * queue, outside the table, that the settlement worker drains into the ledger once the table
 * answers again. A settlement may be delivered more than once; the ledger applies it once.
 */
export interface SettlementQueuePort {
  /**
   * Hands a tenant's settlement over. Resolves once the queue holds it durably; fails with
   * `dependency_unavailable` when it could not be handed over (nothing was queued, or it is unknown
   * whether it was: a second copy is harmless).
   */
  enqueue(tenantId: string, settlement: CallSettlement): Promise<void>;
}
