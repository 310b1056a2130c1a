import type { CallSettlement } from '../../ports/ledger-port.ts';
import type { SettlementQueuePort } from '../../ports/settlement-queue-port.ts';

/**
 * SettlementQueuePort in one process: the settlements handed over, in order, for a test or a
 * benchmark to drain into a ledger (as the settlement worker drains the SQS queue).
 */
export class InMemorySettlementQueue implements SettlementQueuePort {
  readonly #held: { tenantId: string; settlement: CallSettlement }[] = [];

  async enqueue(tenantId: string, settlement: CallSettlement): Promise<void> {
    this.#held.push({ tenantId, settlement: structuredClone(settlement) });
  }

  /** Takes every settlement held, oldest first. */
  take(): { tenantId: string; settlement: CallSettlement }[] {
    return this.#held.splice(0, this.#held.length);
  }
}
