import type { AuthContext } from '../../shared/auth/auth-context.ts';
import { budgetLines } from '../budgets/budget-lines.ts';
import type { TenantPolicySource } from '../policy/tenant-policy-source.ts';
import type { LedgerPort } from '../ports/ledger-port.ts';
import type { MeteredTotals, PrincipalTotals, UsageStorePort } from '../ports/usage-store-port.ts';
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
  readonly #settled: (tenantId: string) => Promise<void>;

  constructor(deps: {
    usage: UsageStorePort;
    ledger: LedgerPort;
    policies: TenantPolicySource;
    /** Waits for this process's settlements of a tenant's calls still running, so its reads see them. */
    settled?: (tenantId: string) => Promise<void>;
    now: () => Date;
  }) {
    this.#usage = deps.usage;
    this.#ledger = deps.ledger;
    this.#policies = deps.policies;
    this.#now = deps.now;
    this.#settled = deps.settled ?? (async () => {});
  }

  /**
   * A run's usage, all time: the whole run's, or with `principalId` only that principal's calls of
   * it (zero, as for an unknown run, when it made none).
   */
  async run(auth: AuthContext, runId: string, principalId?: string): Promise<RunUsageReport> {
    await this.#settled(auth.tenant_id);
    const metered =
      principalId === undefined
        ? await this.#usage.readRun(auth.tenant_id, runId)
        : await this.#usage.readRunPrincipal(auth.tenant_id, runId, principalId);
    return { object: 'usage.run', tenant_id: auth.tenant_id, run_id: runId, totals: totals(metered) };
  }

  /**
   * A window's usage: the tenant's totals (or one principal's), the per-principal rows, and the
   * state of the tenant's and the caller's budgets in their current periods.
   */
  async window(auth: AuthContext, query: UsageQuery): Promise<UsageReport> {
    await this.#settled(auth.tenant_id);
    const now = this.#now();
    const date = query.date ?? currentDate(query.window, now);
    const [window, policy] = await Promise.all([
      this.#window(auth.tenant_id, query.window, date, query.principal),
      this.#policies.forTenant(auth.tenant_id),
    ]);
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
      totals: totals(window.totals),
      by_principal: window.principals.map((row) => ({ principal_id: row.principalId, ...totals(row) })),
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

  /** A window's totals and rows: the tenant's, or only one principal's (read directly). */
  async #window(
    tenantId: string,
    window: UsageQuery['window'],
    date: string,
    principalId: string | undefined,
  ): Promise<{ totals: MeteredTotals; principals: PrincipalTotals[] }> {
    if (principalId === undefined) return this.#usage.readWindow(tenantId, window, date);
    const metered = await this.#usage.readPrincipal(tenantId, window, date, principalId);
    return { totals: metered, principals: metered.calls === 0 ? [] : [{ principalId, ...metered }] };
  }
}
