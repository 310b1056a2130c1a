import type { Budget } from '../schemas/tenant-policy.ts';
import type { BudgetLine } from '../ports/ledger-port.ts';
import { dayOf, monthOf } from '../metering/usage-windows.ts';
import { nanoFromUsd } from '../metering/money.ts';
import { principalKey, runKey } from '../metering/attribution-keys.ts';

const daySeconds = 24 * 3600;

function periodOf(budget: Budget, now: Date): { periodKey: string; expiresAt: number } {
  const nowSeconds = Math.floor(now.getTime() / 1000);
  switch (budget.period) {
    case 'day': {
      const end = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1) / 1000;
      return { periodKey: `day.${dayOf(now)}`, expiresAt: end + 35 * daySeconds };
    }
    case 'month': {
      const end = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) / 1000;
      return { periodKey: `month.${monthOf(now)}`, expiresAt: end + 400 * daySeconds };
    }
    case 'total':
      return { periodKey: 'total', expiresAt: nowSeconds + 400 * daySeconds };
  }
}

/**
 * The budget lines a call counts against: every tenant budget, the caller's principal budgets, and
 * the run budgets when the call is attributed to a run, each for the period `now` falls in.
 */
export function budgetLines(
  budgets: readonly Budget[],
  subject: { principalId: string; runId: string | undefined; now: Date },
): BudgetLine[] {
  const lines: BudgetLine[] = [];
  for (const budget of budgets) {
    let scopeKey: string;
    if (budget.scope === 'tenant') scopeKey = 'tenant';
    else if (budget.scope === 'principal') scopeKey = `principal.${principalKey(subject.principalId)}`;
    else if (subject.runId !== undefined) scopeKey = `run.${runKey(subject.runId)}`;
    else continue;
    const { periodKey, expiresAt } = periodOf(budget, subject.now);
    lines.push({
      scope: budget.scope,
      period: budget.period,
      scopeKey,
      periodKey,
      expiresAt,
      ...(budget.limit_tokens === undefined ? {} : { limitTokens: budget.limit_tokens }),
      ...(budget.limit_usd === undefined ? {} : { limitNano: nanoFromUsd(budget.limit_usd) }),
    });
  }
  return lines;
}
