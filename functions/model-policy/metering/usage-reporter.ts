import type { AuthContext } from '../../shared/auth/auth-context.ts';
import { InvalidRequestError } from '../../shared/errors/agentos-error.ts';
import { budgetLines } from '../budgets/budget-lines.ts';
import type { TenantPolicySource } from '../policy/tenant-policy-source.ts';
import type { LedgerPort } from '../ports/ledger-port.ts';
import type { MeteredTotals, UsageStorePort } from '../ports/usage-store-port.ts';
import type { RunUsageReport, UsageQuery, UsageReport, UsageTotals } from '../schemas/usage.ts';
import { usdFromNano } from './money.ts';
import { currentDate } from './usage-windows.ts';

function totals(metered: MeteredTotals): UsageTotals {
  return {
    calls: metered.calls,
    prompt_tokens: metered.promptTokens,
    completion_tokens: metered.completionTokens,
    total_tokens: metered.promptTokens + metered.completionTokens,
    cost_usd: usdFromNano(metered.costNano),
  };
}

/** Answers `GET /v1/usage` from the ledger's aggregates and budget counters. */
export class UsageReporter {
  readonly #usage: UsageStorePort;
  readonly #ledger: LedgerPort;
  readonly #policies: TenantPolicySource;
  readonly #now: () => Date;

  constructor(deps: {
    usage: UsageStorePort;
    ledger: LedgerPort;
    policies: TenantPolicySource;
    now: () => Date;
  }) {
    this.#usage = deps.usage;
    this.#ledger = deps.ledger;
    this.#policies = deps.policies;
    this.#now = deps.now;
  }

  /** A run's usage, all time. */
  async run(auth: AuthContext, runId: string): Promise<RunUsageReport> {
    return {
      object: 'usage.run',
      tenant_id: auth.tenant_id,
      run_id: runId,
      totals: totals(await this.#usage.readRun(auth.tenant_id, runId)),
    };
  }

  /**
   * A window's usage: the tenant's totals (or one principal's), the per-principal rows, and the
   * state of the tenant's and the caller's budgets in their current periods.
   */
  async window(auth: AuthContext, query: UsageQuery): Promise<UsageReport> {
    const now = this.#now();
    const date = query.date ?? currentDate(query.window, now);
    const expectedLength = query.window === 'day' ? 10 : 7;
    if (date.length !== expectedLength) {
      throw new InvalidRequestError(
        `date must be ${query.window === 'day' ? 'YYYY-MM-DD' : 'YYYY-MM'} for this window`,
        [{ field: 'date', message: `does not match window ${query.window}` }],
      );
    }
    const [window, policy] = await Promise.all([
      this.#usage.readWindow(auth.tenant_id, query.window, date),
      this.#policies.forTenant(auth.tenant_id),
    ]);
    const principals =
      query.principal === undefined
        ? window.principals
        : window.principals.filter((row) => row.principalId === query.principal);
    const lines = budgetLines(policy.policy.budgets, {
      principalId: auth.principal.id,
      runId: undefined,
      now,
    });
    const counters = await this.#ledger.readBudgets(auth.tenant_id, lines);
    return {
      object: 'usage',
      tenant_id: auth.tenant_id,
      window: query.window,
      date,
      totals: totals(
        query.principal === undefined
          ? window.totals
          : (principals[0] ?? { calls: 0, promptTokens: 0, completionTokens: 0, costNano: 0 }),
      ),
      by_principal: principals.map((row) => ({ principal_id: row.principalId, ...totals(row) })),
      budgets: lines.map((line, index) => {
        const counter = counters[index]!;
        return {
          scope: line.scope,
          period: line.period,
          period_key: line.periodKey,
          limit_usd: line.limitNano === undefined ? null : usdFromNano(line.limitNano),
          limit_tokens: line.limitTokens ?? null,
          spent_usd: usdFromNano(counter.spentNano),
          spent_tokens: counter.spentTokens,
          reserved_usd: usdFromNano(counter.reservedNano),
          reserved_tokens: counter.reservedTokens,
        };
      }),
    };
  }
}
