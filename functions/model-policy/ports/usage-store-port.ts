import type { UsageWindow } from '../schemas/usage.ts';

/** Metered totals in integers: cost in nano-USD, so sums never drift. */
export type MeteredTotals = {
  calls: number;
  promptTokens: number;
  completionTokens: number;
  costNano: number;
};

/** One principal's totals within a window. */
export type PrincipalTotals = MeteredTotals & { principalId: string };

/** Reads the usage aggregates the ledger maintains. */
export interface UsageStorePort {
  /**
   * A window's tenant totals and per-principal rows (both empty when nothing was metered), the rows
   * sorted by cost; a window with very many principals lists a bounded number of them.
   */
  readWindow(
    tenantId: string,
    window: UsageWindow,
    date: string,
  ): Promise<{ totals: MeteredTotals; principals: PrincipalTotals[] }>;
  /** One principal's totals within a window (zero when it metered nothing there). */
  readPrincipal(
    tenantId: string,
    window: UsageWindow,
    date: string,
    principalId: string,
  ): Promise<MeteredTotals>;
  /** One run's totals, all time. */
  readRun(tenantId: string, runId: string): Promise<MeteredTotals>;
  /** One principal's calls of a run, all time (zero when it metered nothing there). */
  readRunPrincipal(tenantId: string, runId: string, principalId: string): Promise<MeteredTotals>;
}
