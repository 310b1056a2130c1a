import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import type { InMemoryRateLimiter } from '../../../shared/limits/adapters/in-memory-limits.ts';
import type { RateBucket } from '../../../shared/limits/limiter-port.ts';
import { requestKey } from '../../metering/attribution-keys.ts';
import type {
  Amount,
  BudgetCounters,
  BudgetLine,
  CallSettlement,
  ClaimOutcome,
  ClaimReservationOutcome,
  LedgerPort,
  RequestClaim,
  ReserveOutcome,
} from '../../ports/ledger-port.ts';
import { assertChargesOnlyWithRecord } from '../../ports/ledger-port.ts';
import type { StoredCall } from '../../schemas/stored-call.ts';

type Held = { keys: string[]; amount: Amount; attempt: number };
type RequestEntry = {
  fingerprint: string;
  token: string;
  leaseUntil: number;
  /** Retention end (epoch seconds): after it, the request id may be claimed afresh. */
  expiresAt: number;
  held?: Held;
  call?: StoredCall;
  /** Set by `requestAbort` while the call is in flight. */
  abortRequested?: boolean;
};
type Counters = BudgetCounters & { committedTokens: number; committedNano: number };

/** Whether another attempt may take a request over: its lease lapsed, or its retention ended. */
function isLapsed(entry: RequestEntry, nowMs: number): boolean {
  return entry.expiresAt < Math.floor(nowMs / 1000) || (entry.call === undefined && entry.leaseUntil < nowMs);
}

/**
 * LedgerPort held in this process, for unit tests and the gateway benchmark: the same claim,
 * reservation and settlement rules as the DynamoDB ledger (the LedgerPort conformance suite holds
 * both to them), without a store's latency, so the gateway's own overhead can be told apart from its
 * store's. One process is trivially atomic: no method awaits between reading and writing its maps.
 * It reads no clock; leases and retention are judged by each claim's `now`. Usage records (settled
 * or refused) are counted in {@link InMemoryLedger.records}, not kept.
 */
export class InMemoryLedger implements LedgerPort {
  readonly #requests = new Map<string, RequestEntry>();
  /** The settlements applied, by tenant, request and claim token: a second write of one is a no-op. */
  readonly #settled = new Set<string>();
  readonly #budgets = new Map<string, Counters>();
  readonly #rates: InMemoryRateLimiter | undefined;
  records = 0;

  /** `rateLimiter`: the limiter whose buckets a claim and reservation take from in the same step. */
  constructor(options: { rateLimiter?: InMemoryRateLimiter } = {}) {
    this.#rates = options.rateLimiter;
  }

  async claim(tenantId: string, claim: RequestClaim): Promise<ClaimOutcome> {
    const key = `${tenantId}/${claim.requestKey}`;
    const existing = this.#requests.get(key);
    if (existing === undefined || isLapsed(existing, claim.now)) {
      if (existing?.held !== undefined) this.#release(existing.held);
      this.#requests.set(key, {
        fingerprint: claim.fingerprint,
        token: claim.token,
        leaseUntil: claim.leaseUntil,
        expiresAt: claim.expiresAt,
      });
      return { outcome: 'claimed' };
    }
    if (existing.fingerprint !== claim.fingerprint) return { outcome: 'reused' };
    return existing.call === undefined
      ? { outcome: 'in_progress', leaseUntil: existing.leaseUntil }
      : { outcome: 'replay', call: structuredClone(existing.call) };
  }

  async claimAndReserve(
    tenantId: string,
    claim: RequestClaim,
    lines: readonly BudgetLine[],
    amount: Amount,
    rate?: RateBucket,
  ): Promise<ClaimReservationOutcome> {
    const key = `${tenantId}/${claim.requestKey}`;
    const existing = this.#requests.get(key);
    // The bucket is taken only where the claim and reservation then apply, in the same step.
    const takeRate = () =>
      rate === undefined || this.#rates === undefined ? undefined : this.#rates.takeNow(rate.key, rate.limit);
    if (lines.length === 0) {
      const free = existing === undefined || isLapsed(existing, claim.now);
      const taken = free ? takeRate() : undefined;
      if (taken?.allowed === false) return { outcome: 'rate_limited', rate: taken };
      const claimed = await this.claim(tenantId, claim);
      if (claimed.outcome !== 'claimed') return claimed;
      return taken === undefined ? { outcome: 'reserved' } : { outcome: 'reserved', rate: taken };
    }
    if (existing?.token === claim.token) {
      return existing.held?.attempt === 0 ? { outcome: 'reserved' } : { outcome: 'claimed' };
    }
    // A live claim answers as to a plain claim; a lapsed one holding a reservation is taken over
    // (releasing it) and the caller reserves afterwards, as the DynamoDB ledger's takeover does.
    if (existing !== undefined && (!isLapsed(existing, claim.now) || existing.held !== undefined)) {
      return this.claim(tenantId, claim);
    }
    const counters = lines.map((line) => this.#counters(tenantId, line));
    if (!this.#fits(lines, counters, amount)) return { outcome: 'no_room' };
    const taken = takeRate();
    if (taken?.allowed === false) return { outcome: 'rate_limited', rate: taken };
    for (const counter of counters) this.#add(counter, amount, amount);
    this.#requests.set(key, {
      fingerprint: claim.fingerprint,
      token: claim.token,
      leaseUntil: claim.leaseUntil,
      expiresAt: claim.expiresAt,
      held: { keys: lines.map((line) => this.#key(tenantId, line)), amount, attempt: 0 },
    });
    return taken === undefined ? { outcome: 'reserved' } : { outcome: 'reserved', rate: taken };
  }

  async readBudgets(tenantId: string, lines: readonly BudgetLine[]): Promise<BudgetCounters[]> {
    return lines.map((line) => {
      const { spentTokens, spentNano, reservedTokens, reservedNano } = this.#counters(tenantId, line);
      return { spentTokens, spentNano, reservedTokens, reservedNano };
    });
  }

  async reserve(
    tenantId: string,
    claim: RequestClaim,
    lines: readonly BudgetLine[],
    amount: Amount,
    attempt: number,
  ): Promise<ReserveOutcome> {
    const entry = this.#requests.get(`${tenantId}/${claim.requestKey}`);
    // A retried write of the same attempt applied already; any other write under a held claim is not ours.
    if (entry?.token === claim.token && entry.held?.attempt === attempt) return 'reserved';
    // Only a claim still in flight and holding nothing may reserve (a completed one is settled).
    if (entry?.token !== claim.token || entry.call !== undefined || entry.held !== undefined) {
      return 'claim_lost';
    }
    const counters = lines.map((line) => this.#counters(tenantId, line));
    if (!this.#fits(lines, counters, amount)) return 'no_room';
    for (const counter of counters) this.#add(counter, amount, amount);
    entry.held = { keys: lines.map((line) => this.#key(tenantId, line)), amount, attempt };
    return 'reserved';
  }

  async settle(tenantId: string, settlement: CallSettlement): Promise<void> {
    assertChargesOnlyWithRecord(settlement);
    const key = `${tenantId}/${settlement.claim.requestKey}`;
    // A settlement with a record applies once, however often it is written (as the record's
    // conditional write does in DynamoDB); one without a record moves nothing a second time.
    if (settlement.record !== undefined) {
      const settledKey = `${key}/${settlement.claim.token}`;
      if (this.#settled.has(settledKey)) return;
      this.#settled.add(settledKey);
    }
    const entry = this.#requests.get(key);
    const owned = entry?.token === settlement.claim.token;
    if (owned && (settlement.budgets !== undefined || entry.held === undefined)) {
      if (settlement.request.kind === 'complete') {
        entry.call = structuredClone(settlement.request.call);
        delete entry.held;
      } else this.#requests.delete(key);
    }
    const budgets = settlement.budgets;
    if (budgets !== undefined) {
      const released = owned ? budgets.reserved : { tokens: 0, nano: 0 };
      const { charged } = budgets;
      for (const line of budgets.lines) {
        const counter = this.#counters(tenantId, line);
        this.#add(
          counter,
          { tokens: -released.tokens, nano: -released.nano },
          {
            tokens: charged.tokens - released.tokens,
            nano: charged.nano - released.nano,
          },
        );
        counter.spentTokens += charged.tokens;
        counter.spentNano += charged.nano;
      }
    }
    if (settlement.record !== undefined) this.records += 1;
  }

  async recordRefusal(): Promise<void> {
    this.records += 1;
  }

  async requestAbort(auth: AuthContext, requestId: string): Promise<boolean> {
    const entry = this.#requests.get(this.#requestEntryKey(auth, requestId));
    if (entry === undefined || entry.call !== undefined) return false;
    entry.abortRequested = true;
    return true;
  }

  async abortRequested(auth: AuthContext, requestId: string): Promise<boolean> {
    const entry = this.#requests.get(this.#requestEntryKey(auth, requestId));
    return entry !== undefined && entry.call === undefined && entry.abortRequested === true;
  }

  #requestEntryKey(auth: AuthContext, requestId: string): string {
    return `${auth.tenant_id}/${requestKey(auth.principal.id, requestId)}`;
  }

  /** Whether every line can take `amount` on top of what it has committed. */
  #fits(lines: readonly BudgetLine[], counters: readonly Counters[], amount: Amount): boolean {
    return lines.every((line, index) => {
      const counter = counters[index]!;
      return (
        (line.limitTokens === undefined || counter.committedTokens + amount.tokens <= line.limitTokens) &&
        (line.limitNano === undefined || counter.committedNano + amount.nano <= line.limitNano)
      );
    });
  }

  #release(held: Held): void {
    for (const key of held.keys) {
      const negative = { tokens: -held.amount.tokens, nano: -held.amount.nano };
      this.#add(this.#budgets.get(key)!, negative, negative);
    }
  }

  #add(counter: Counters, reserved: Amount, committed: Amount): void {
    counter.reservedTokens += reserved.tokens;
    counter.reservedNano += reserved.nano;
    counter.committedTokens += committed.tokens;
    counter.committedNano += committed.nano;
  }

  #key(tenantId: string, line: BudgetLine): string {
    return `${tenantId}/${line.scopeKey}/${line.periodKey}`;
  }

  #counters(tenantId: string, line: BudgetLine): Counters {
    const key = this.#key(tenantId, line);
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
