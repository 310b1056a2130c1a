import { BudgetExceededError, RateLimitedError } from '../../shared/errors/agentos-error.ts';
import type { Amount, BudgetCounters, BudgetLine, LedgerPort } from '../ports/ledger-port.ts';
import { noCounters, sizeReservation } from './reservation-sizing.ts';
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

function pause(attempt: number): Promise<void> {
  const ms = Math.min(100, 2 * 2 ** attempt) * (0.5 + Math.random());
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Reserves the worst case of a call on all its budget lines before the call (issue 3). The first
 * attempt assumes nothing is committed, which is right for most calls and costs one conditional
 * write; when a line cannot take it, the counters are read and the reservation is sized to what
 * remains, lowering the call's output tokens. Concurrent calls can only ever fail a condition,
 * never overdraw: the store checks each line's limit atomically.
 *
 * @throws BudgetExceededError when not even one output token fits.
 */
export async function reserveBudget(
  ledger: LedgerPort,
  tenantId: string,
  lines: BudgetLine[],
  worst: WorstCase,
  claimToken: string,
): Promise<Reservation> {
  let counters: BudgetCounters[] = lines.map(() => noCounters);
  for (let attempt = 0; attempt < maxAttempts; attempt += 1) {
    const size = sizeReservation(worst, lines, counters);
    if (size.outputTokens < 1) throw exceeded(size);
    if (
      lines.length === 0 ||
      (await ledger.reserve(tenantId, lines, size.amount, `${claimToken}:${attempt}`))
    ) {
      return { lines, outputTokens: size.outputTokens, amount: size.amount };
    }
    if (attempt > 0) await pause(attempt);
    counters = await ledger.readBudgets(tenantId, lines);
  }
  throw new RateLimitedError('The budget ledger is busy with concurrent calls; retry shortly');
}
