import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { RateBucket, RateDecision } from '../../shared/limits/limiter-port.ts';
import type { BudgetPeriod, BudgetScope } from '../schemas/tenant-policy.ts';
import type { UsageWindow } from '../schemas/usage.ts';
import type { StoredCall } from '../schemas/stored-call.ts';
import type { UsageRecord } from '../schemas/usage-record.ts';

/**
 * The metering ledger (HLD §5.3): budget counters, request-id claims, usage records and aggregates,
 * in one store so that a call's settlement (budgets, record, aggregates and the stored response) is
 * one atomic write, and a retried `request_id` can never be billed twice. A claim remembers the
 * reservation made under it, so whoever takes over a lapsed claim releases what it held.
 */

/** Tokens and nano-USD (10⁻⁹ USD), always whole numbers. */
export type Amount = { tokens: number; nano: number };

/** One budget a call is counted against, for the period it falls in. */
export type BudgetLine = {
  scope: BudgetScope;
  period: BudgetPeriod;
  /** Storage-safe scope key: `tenant`, `principal.<hash>` or `run.<id-or-hash>`. */
  scopeKey: string;
  /** `day.2025-06-14`, `month.2025-06` or `total`. */
  periodKey: string;
  limitTokens?: number;
  limitNano?: number;
  /** When the counter may be deleted (epoch seconds), well after its period ended. */
  expiresAt?: number;
};

/** What a budget counter holds: committed = spent + reserved. */
export type BudgetCounters = {
  spentTokens: number;
  spentNano: number;
  reservedTokens: number;
  reservedNano: number;
};

/** A claim on a request id, taken before anything is reserved or called. */
export type RequestClaim = {
  /** Storage-safe hash of (principal, request id). */
  requestKey: string;
  requestId: string;
  principalId: string;
  fingerprint: string;
  /** Identifies this claimant; only it may complete or release the claim. */
  token: string;
  /** Until when (epoch ms) the claim holds without completing; a later retry may take it over. */
  leaseUntil: number;
  /** When the stored request may be deleted (epoch seconds); at least 24 h ahead. */
  expiresAt: number;
  now: number;
};

/**
 * What claiming a request id found: `claimed` (this attempt owns it; a lapsed earlier attempt's
 * reservation has been released), `replay` (completed before: its stored call), `reused` (the id was
 * used with another request body), `in_progress` (another attempt holds it and its lease runs).
 */
export type ClaimOutcome =
  | { outcome: 'claimed' }
  | { outcome: 'replay'; call: StoredCall }
  | { outcome: 'reused' }
  | {
      outcome: 'in_progress';
      /** When the holder's lease ends (epoch ms), when the ledger knows: a retry after it takes over. */
      leaseUntil?: number;
    };

/** Where a settled call is aggregated. */
export type AggregateTargets = {
  windows: { window: UsageWindow; date: string }[];
  principalId: string;
  runId?: string;
};

/**
 * What reserving found: `reserved`, `no_room` (some line cannot take the amount now), or
 * `claim_lost` (a later attempt took the request id over, so this one must stop).
 */
export type ReserveOutcome = 'reserved' | 'no_room' | 'claim_lost';

/**
 * What claiming a request id together with its first reservation found: `reserved` (claimed, and the
 * amount reserved on every line, in one atomic write); `no_room` (some line cannot take the amount
 * now: nothing was written, not even the claim); or, when the request id was taken, what
 * {@link LedgerPort.claim} finds — `claimed` then means a lapsed claim was taken over and this
 * attempt holds the id with nothing reserved yet. With a rate bucket: `reserved` carries `rate`, the
 * bucket's decision, when the request was taken from it in the same write (absent: the bucket was
 * not taken, and is the caller's to take); `rate_limited` says the bucket refused, and nothing was
 * written. No other outcome takes from the bucket.
 */
export type ClaimReservationOutcome =
  | { outcome: 'reserved'; rate?: RateDecision }
  | { outcome: 'rate_limited'; rate: RateDecision }
  | { outcome: 'no_room' }
  | ClaimOutcome;

/** How a call ends in the ledger. */
export type CallSettlement = {
  claim: RequestClaim;
  /** `complete` stores the response for replays; `release` frees the request id for a retry. */
  request: { kind: 'complete'; call: StoredCall } | { kind: 'release' };
  /**
   * The reservation to release and what the call is charged against its budgets (never more than
   * was reserved). When a later attempt took the claim over, it released the reservation already,
   * so only the charge is applied. Absent when nothing was reserved: the request id is then freed
   * only if the claim holds no reservation (one that applied although its write seemed to fail is
   * released by whoever takes the claim over once its lease lapses).
   */
  budgets?: { lines: BudgetLine[]; reserved: Amount; charged: Amount };
} & (
  | {
      /** The call's usage record; written in the same atomic write. */
      record: UsageRecord;
      /** Set when the call consumed tokens, so they count in the usage aggregates. */
      aggregate?: AggregateTargets;
    }
  | {
      /**
       * Absent for a call refused by its tenant's request rate (HLD §10.2): the claim and the
       * reservation are released, and usage records and aggregates are left as they were, so a
       * flood past the rate writes no usage. Such a call reached no backend: it charges nothing
       * (`settle` throws a `TypeError` for one whose `budgets.charged` is not zero), so writing it
       * again can move nothing twice.
       */
      record?: undefined;
      aggregate?: undefined;
    }
);

/** The ledger a call goes through. Every method fails with `dependency_unavailable` when unreachable. */
export interface LedgerPort {
  /**
   * Claims a request id. A claim whose lease lapsed (or whose retention ended) is taken over, and
   * the reservation it held is released in the same atomic write.
   */
  claim(tenantId: string, claim: RequestClaim): Promise<ClaimOutcome>;
  /**
   * Claims a request id and reserves `amount` on every line in one atomic write (HLD §5.3): the
   * common call's only store round trip before its model is called. Its reservation is attempt 0
   * of the claim; whatever follows it (after `no_room` or a takeover) reserves from attempt 1 on.
   * Budgets are never exceeded: the write applies whole, within every line's limits, or not at all.
   * `rate`: a request-rate bucket (HLD §10.2) the same write takes one request from, when this
   * ledger shares the limiter's buckets; the bucket is never taken without the claim, nor the
   * claim without the bucket.
   */
  claimAndReserve(
    tenantId: string,
    claim: RequestClaim,
    lines: readonly BudgetLine[],
    amount: Amount,
    rate?: RateBucket,
  ): Promise<ClaimReservationOutcome>;
  readBudgets(tenantId: string, lines: readonly BudgetLine[]): Promise<BudgetCounters[]>;
  /**
   * Atomically reserves `amount` on every line and records it on the claim, or does nothing: each
   * line's committed tokens and cost must stay within its limits, and the claim must still be this
   * attempt's. A retried write of the same `attempt` (numbered per claim) applies once.
   */
  reserve(
    tenantId: string,
    claim: RequestClaim,
    lines: readonly BudgetLine[],
    amount: Amount,
    attempt: number,
  ): Promise<ReserveOutcome>;
  /**
   * Settles a call: budgets to the actual amount, the usage record (when given), aggregates and the
   * request, atomically. A settlement applies once however often it is written, at any time later
   * (a retry whose first write landed, a replay from the settlement queue): its second write
   * changes nothing.
   */
  settle(tenantId: string, settlement: CallSettlement): Promise<void>;
  /** Writes the usage record of a call refused before anything was claimed (e.g. denied by policy). */
  recordRefusal(tenantId: string, record: UsageRecord): Promise<void>;
  /**
   * Asks the call holding this request id (the caller's tenant and principal) to stop (HLD §5.3): marks
   * its claim abort-requested, in one conditional write that applies only while the call is in flight.
   * The claim's holder alone settles the call, so its reservation is released by the invocation that
   * made it. Idempotent; true when a live call is (now or already) marked, false for an unknown,
   * completed or released request id, or one of another tenant.
   */
  requestAbort(auth: AuthContext, requestId: string): Promise<boolean>;
  /** Whether the in-flight call of this request id was asked to stop (one consistent read). */
  abortRequested(auth: AuthContext, requestId: string): Promise<boolean>;
}

/**
 * Throws a `TypeError` for a settlement without a usage record that charges something: only a call
 * refused by its tenant's request rate has no record, and it reached no backend (see
 * {@link CallSettlement}). A ledger checks it before it writes anything.
 */
export function assertChargesOnlyWithRecord(settlement: CallSettlement): void {
  const charged = settlement.budgets?.charged;
  if (
    settlement.record === undefined &&
    charged !== undefined &&
    (charged.tokens !== 0 || charged.nano !== 0)
  ) {
    throw new TypeError('A settlement without a usage record cannot charge its budgets');
  }
}
