import { z } from 'zod';
import { budgetPeriods, budgetScopes } from './tenant-policy.ts';

/** `GET /v1/usage`: the tenant's metered usage. */

/** The windows usage is aggregated by. */
export const usageWindows = ['day', 'month'] as const;
/** One of {@link usageWindows}. */
export type UsageWindow = (typeof usageWindows)[number];

/** `GET /v1/usage` query: a window (and date), optionally one principal; or one run. */
export const UsageQuerySchema = z
  .strictObject({
    window: z.enum(usageWindows).default('month'),
    /** `YYYY-MM-DD` for a day, `YYYY-MM` for a month (UTC); the current one by default. */
    date: z
      .string()
      .regex(/^\d{4}-\d{2}(-\d{2})?$/, 'YYYY-MM-DD or YYYY-MM')
      .optional(),
    /** Only this principal's usage in the window. */
    principal: z.string().min(1).max(256).optional(),
    /** The usage of one run, all time (window and date do not apply). */
    run_id: z.string().min(1).max(200).optional(),
  })
  .superRefine((query, context) => {
    if (query.date === undefined || query.run_id !== undefined) return;
    if (query.date.length !== (query.window === 'day' ? 10 : 7)) {
      context.addIssue({
        code: 'custom',
        path: ['date'],
        message: `must be ${query.window === 'day' ? 'YYYY-MM-DD' : 'YYYY-MM'} for window ${query.window}`,
      });
    } else if (!isCalendarDate(query.date)) {
      context.addIssue({ code: 'custom', path: ['date'], message: 'is not a calendar date' });
    }
  });

/** Whether `YYYY-MM` or `YYYY-MM-DD` names a real month or day (so `2025-13-45` does not). */
function isCalendarDate(date: string): boolean {
  const [year, month, day = 1] = date.split('-').map(Number);
  if (year === undefined || month === undefined || month < 1 || month > 12 || day < 1) return false;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return day <= daysInMonth;
}

/** A validated usage query (defaults applied). */
export type UsageQuery = z.output<typeof UsageQuerySchema>;

/** Metered totals: calls, tokens and cost. */
export const UsageTotalsSchema = z
  .strictObject({
    calls: z.number().int().nonnegative(),
    prompt_tokens: z.number().int().nonnegative(),
    completion_tokens: z.number().int().nonnegative(),
    total_tokens: z.number().int().nonnegative(),
    cost_usd: z.number().nonnegative(),
  })
  .meta({ id: 'UsageTotals' });

/** Totals as the usage report shows them. */
export type UsageTotals = z.infer<typeof UsageTotalsSchema>;

/** A budget in its current period: its limits and what is spent and reserved against them. */
export const BudgetStatusSchema = z
  .strictObject({
    scope: z.enum(budgetScopes),
    period: z.enum(budgetPeriods),
    period_key: z.string(),
    limit_usd: z.number().nonnegative().nullable(),
    limit_tokens: z.number().int().nonnegative().nullable(),
    spent_usd: z.number(),
    spent_tokens: z.number().int(),
    reserved_usd: z.number(),
    reserved_tokens: z.number().int(),
  })
  .meta({ id: 'BudgetStatus' });

/** A budget's state as the usage report shows it. */
export type BudgetStatus = z.infer<typeof BudgetStatusSchema>;

/** A window's usage: the tenant's totals, per principal, and its budgets. */
export const UsageReportSchema = z
  .strictObject({
    object: z.literal('usage'),
    tenant_id: z.string(),
    window: z.enum(usageWindows),
    date: z.string(),
    totals: UsageTotalsSchema,
    by_principal: z.array(UsageTotalsSchema.extend({ principal_id: z.string() })),
    /** The tenant's and the caller's budgets of the current periods. */
    budgets: z.array(BudgetStatusSchema),
  })
  .meta({ id: 'UsageReport' });

/** The usage report of a window. */
export type UsageReport = z.infer<typeof UsageReportSchema>;

/** One run's usage, all time. */
export const RunUsageReportSchema = z
  .strictObject({
    object: z.literal('usage.run'),
    tenant_id: z.string(),
    run_id: z.string(),
    totals: UsageTotalsSchema,
  })
  .meta({ id: 'RunUsageReport' });

/** The usage report of a run. */
export type RunUsageReport = z.infer<typeof RunUsageReportSchema>;
