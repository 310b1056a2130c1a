import { describe, expect, it } from 'vitest';
import { noCounters, sizeReservation } from '../../../functions/model-policy/budgets/reservation-sizing.ts';
import type { BudgetLine } from '../../../functions/model-policy/ports/ledger-port.ts';

const tokens = (limitTokens: number): BudgetLine => ({
  scope: 'tenant',
  period: 'month',
  scopeKey: 'tenant',
  periodKey: 'month.2025-06',
  limitTokens,
});
const cost = (limitNano: number): BudgetLine => ({
  ...tokens(0),
  limitTokens: undefined,
  period: 'day',
  limitNano,
});

const worst = { promptTokens: 100, maxOutputTokens: 50, prices: { inputNano: 1000, outputNano: 2000 } };

describe('sizeReservation', () => {
  it('reserves the whole worst case when it fits', () => {
    expect(sizeReservation(worst, [tokens(1000)], [noCounters])).toMatchObject({
      outputTokens: 50,
      amount: { tokens: 150, nano: 100 * 1000 + 50 * 2000 },
      limitedBy: undefined,
    });
  });

  it('lowers the output tokens to what a token budget has left', () => {
    const used = { ...noCounters, spentTokens: 800, reservedTokens: 70 };
    expect(sizeReservation(worst, [tokens(1000)], [used])).toMatchObject({
      outputTokens: 30,
      amount: { tokens: 130 },
    });
  });

  it('lowers the output tokens to what a cost budget has left', () => {
    const limit = 100 * 1000 + 10 * 2000 + 1999;
    expect(sizeReservation(worst, [cost(limit)], [noCounters]).outputTokens).toBe(10);
  });

  it('reports the budget that cannot take even one output token', () => {
    const line = tokens(1000);
    const size = sizeReservation(
      worst,
      [tokens(10_000), line],
      [noCounters, { ...noCounters, spentTokens: 900 }],
    );
    expect(size.outputTokens).toBeLessThan(1);
    expect(size.limitedBy).toBe(line);
  });

  it('caps zero-priced models by tokens', () => {
    const free = { ...worst, prices: { inputNano: 0, outputNano: 0 } };
    expect(sizeReservation(free, [cost(0), tokens(120)], [noCounters, noCounters]).outputTokens).toBe(20);
  });
});
