import { describe, expect, it } from 'vitest';
import { reserveBudget } from '../../../functions/model-policy/budgets/budget-reserver.ts';
import { noCounters } from '../../../functions/model-policy/budgets/reservation-sizing.ts';
import type {
  BudgetLine,
  LedgerPort,
  RequestClaim,
} from '../../../functions/model-policy/ports/ledger-port.ts';
import { RateLimitedError } from '../../../functions/shared/errors/agentos-error.ts';

const line: BudgetLine = {
  scope: 'tenant',
  period: 'month',
  scopeKey: 'tenant',
  periodKey: 'month.2025-06',
  limitTokens: 1000,
};
const claim = { requestId: 'req-1' } as RequestClaim;
const worst = { promptTokens: 100, maxOutputTokens: 50, prices: { inputNano: 1000, outputNano: 2000 } };

describe('reserveBudget', () => {
  it('throws rate_limited naming ledger contention when every attempt loses a race', async () => {
    // The counters always show room, yet every conditional reservation fails: concurrent calls win.
    const ledger = {
      reserve: () => Promise.resolve('no_room' as const),
      readBudgets: () => Promise.resolve([noCounters]),
    } as unknown as LedgerPort;
    const error = await reserveBudget(ledger, 'acme', claim, [line], worst).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error).toMatchObject({
      message: 'The budget ledger is busy with concurrent calls; retry shortly',
      details: { limit: 'ledger_contention', retry_after_seconds: 1 },
    });
  });
});

describe('reserveBudget for a call without output', () => {
  const embedding = { promptTokens: 100, maxOutputTokens: 0, prices: { inputNano: 1000, outputNano: 0 } };
  const roomy = { reserve: () => Promise.resolve('reserved' as const) } as unknown as LedgerPort;

  it('returns a reservation of the prompt alone', async () => {
    const reservation = await reserveBudget(roomy, 't', claim, [line], embedding);
    expect(reservation).toMatchObject({ outputTokens: 0, amount: { tokens: 100, nano: 100_000 } });
  });

  it('throws budget_exceeded when the prompt alone does not fit', async () => {
    const full = {
      reserve: () => Promise.resolve('no_room' as const),
      readBudgets: () => Promise.resolve([{ ...noCounters, spentTokens: 950 }]),
    } as unknown as LedgerPort;
    await expect(reserveBudget(full, 't', claim, [line], embedding)).rejects.toMatchObject({
      code: 'budget_exceeded',
    });
  });
});
