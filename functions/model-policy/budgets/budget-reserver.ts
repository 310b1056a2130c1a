import { BudgetExceededError, RequestInProgressError } from '../../shared/errors/agentos-error.ts';
import { rateLimited } from '../../shared/limits/rate-limit-headers.ts';
import type { Amount, BudgetCounters, BudgetLine, LedgerPort, RequestClaim } from '../ports/ledger-port.ts';
import { pauseAfterContention } from '../../shared/timing/contention-backoff.ts';
import { leastOutputTokens, noCounters, sizeReservation } from './reservation-sizing.ts';
import type { ReservationSize, WorstCase } from './reservation-sizing.ts';

/** A reservation held for a call. */
export type Reservation = { lines: BudgetLine[]; outputTokens: number; amount: Amount };

const maxAttempts = 10;

function describe(line: BudgetLine): string {
  const period = line.period === 'total' ? 'total' : `${line.period === 'day' ? 'daily' : 'monthly'}`;
  return `the ${line.scope}'s ${period} budget`;
}

function exceeded(size: ReservationSize): BudgetExceededError {
  const line = size.limitedBy;
  return new BudgetExceededError(
    line === undefined ? 'No budget can cover this request' : `This request does not fit ${describe(line)}`,
    { details: line === undefined ? {} : { budget: { scope: line.scope, period: line.period } } },
  );
}

/**
 * Reserves the worst case of a call on all its budget lines before the call (HLD §5.3 hard gating),
 * under a claim already held. The first attempt assumes `options.counters` (nothing committed when
 * absent: right for most calls, one conditional write); when a line cannot take it, the counters are read and the reservation is sized to what
 * remains, lowering the call's output tokens. Concurrent calls can only ever fail a condition,
 * never overdraw: the store checks each line's limit atomically. The reservation is recorded on the
 * request claim, so an attempt that takes a lapsed claim over releases it.
 *
 * @throws BudgetExceededError when not even one output token fits (the prompt alone, for a call
 * without output); RequestInProgressError when a
 * later attempt took the request id over meanwhile.
 */
export async function reserveBudget(
  ledger: LedgerPort,
  tenantId: string,
  claim: RequestClaim,
  lines: BudgetLine[],
  worst: WorstCase,
  options: { counters?: BudgetCounters[] } = {},
): Promise<Reservation> {
  let counters: BudgetCounters[] = options.counters ?? lines.map(() => noCounters);
  // Attempt 0 of a claim is its first reservation, made together with the claim itself
  // (`LedgerPort.claimAndReserve`); what follows it here counts from 1.
  for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
    const size = sizeReservation(worst, lines, counters);
    if (size.outputTokens < leastOutputTokens(worst)) throw exceeded(size);
    const outcome =
      lines.length === 0 ? 'reserved' : await ledger.reserve(tenantId, claim, lines, size.amount, attempt);
    if (outcome === 'reserved') return { lines, outputTokens: size.outputTokens, amount: size.amount };
    if (outcome === 'claim_lost') {
      throw new RequestInProgressError(`Request ${claim.requestId} was taken over by a later attempt`);
    }
    if (attempt > 1) await pauseAfterContention(attempt - 1, { baseMs: 2, maxMs: 100 });
    counters = await ledger.readBudgets(tenantId, lines);
  }
  // The contention lasts as long as the concurrent calls' reservations take: milliseconds.
  throw rateLimited('ledger_contention', 'The budget ledger is busy with concurrent calls; retry shortly', 1);
}
