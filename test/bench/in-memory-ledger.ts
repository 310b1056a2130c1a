import type {
  Amount,
  BudgetCounters,
  BudgetLine,
  CallSettlement,
  ClaimOutcome,
  LedgerPort,
  RequestClaim,
} from '../../functions/model-policy/ports/ledger-port.ts';
import type { StoredCall } from '../../functions/model-policy/invocation/stored-call.ts';

type RequestEntry = { fingerprint: string; token: string; leaseUntil: number; call?: StoredCall };
type Counters = BudgetCounters & { committedTokens: number; committedNano: number };

/**
 * A LedgerPort held in this process, for the benchmark only: the same claim, reservation and
 * settlement rules as the DynamoDB ledger (one process is trivially atomic), without a store's
 * latency, so the gateway's own overhead can be told apart from its store's.
 */
export class InMemoryLedger implements LedgerPort {
  readonly #requests = new Map<string, RequestEntry>();
  readonly #budgets = new Map<string, Counters>();
  records = 0;

  async claim(tenantId: string, claim: RequestClaim): Promise<ClaimOutcome> {
    const key = `${tenantId}/${claim.requestKey}`;
    const existing = this.#requests.get(key);
    if (existing === undefined || (existing.call === undefined && existing.leaseUntil < claim.now)) {
      this.#requests.set(key, {
        fingerprint: claim.fingerprint,
        token: claim.token,
        leaseUntil: claim.leaseUntil,
      });
      return { outcome: 'claimed' };
    }
    if (existing.fingerprint !== claim.fingerprint) return { outcome: 'reused' };
    return existing.call === undefined
      ? { outcome: 'in_progress' }
      : { outcome: 'replay', call: existing.call };
  }

  async readBudgets(tenantId: string, lines: readonly BudgetLine[]): Promise<BudgetCounters[]> {
    return lines.map((line) => ({ ...this.#counters(tenantId, line) }));
  }

  async reserve(tenantId: string, lines: readonly BudgetLine[], amount: Amount): Promise<boolean> {
    const counters = lines.map((line) => this.#counters(tenantId, line));
    const fits = lines.every((line, index) => {
      const counter = counters[index]!;
      return (
        (line.limitTokens === undefined || counter.committedTokens + amount.tokens <= line.limitTokens) &&
        (line.limitNano === undefined || counter.committedNano + amount.nano <= line.limitNano)
      );
    });
    if (!fits) return false;
    for (const counter of counters) {
      counter.reservedTokens += amount.tokens;
      counter.reservedNano += amount.nano;
      counter.committedTokens += amount.tokens;
      counter.committedNano += amount.nano;
    }
    return true;
  }

  async settle(tenantId: string, settlement: CallSettlement): Promise<void> {
    const key = `${tenantId}/${settlement.claim.requestKey}`;
    const entry = this.#requests.get(key);
    if (entry?.token === settlement.claim.token) {
      if (settlement.request.kind === 'complete') entry.call = settlement.request.call;
      else this.#requests.delete(key);
    }
    const { reserved, actual } = settlement.budgets;
    for (const line of settlement.budgets.lines) {
      const counter = this.#counters(tenantId, line);
      counter.reservedTokens -= reserved.tokens;
      counter.reservedNano -= reserved.nano;
      counter.spentTokens += actual.tokens;
      counter.spentNano += actual.nano;
      counter.committedTokens += actual.tokens - reserved.tokens;
      counter.committedNano += actual.nano - reserved.nano;
    }
    this.records += 1;
  }

  async recordRefusal(): Promise<void> {
    this.records += 1;
  }

  #counters(tenantId: string, line: BudgetLine): Counters {
    const key = `${tenantId}/${line.scopeKey}/${line.periodKey}`;
    let counter = this.#budgets.get(key);
    if (counter === undefined) {
      counter = {
        spentTokens: 0,
        spentNano: 0,
        reservedTokens: 0,
        reservedNano: 0,
        committedTokens: 0,
        committedNano: 0,
      };
      this.#budgets.set(key, counter);
    }
    return counter;
  }
}
