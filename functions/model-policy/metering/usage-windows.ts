import type { UsageWindow } from '../schemas/usage.ts';

/** The UTC day of an instant, `YYYY-MM-DD`. */
export function dayOf(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** The UTC month of an instant, `YYYY-MM`. */
export function monthOf(at: Date): string {
  return at.toISOString().slice(0, 7);
}

/** The windows a call at `at` is aggregated into. */
export function aggregateWindows(at: Date): { window: UsageWindow; date: string }[] {
  return [
    { window: 'day', date: dayOf(at) },
    { window: 'month', date: monthOf(at) },
  ];
}

/** The current date key of a window. */
export function currentDate(window: UsageWindow, at: Date): string {
  return window === 'day' ? dayOf(at) : monthOf(at);
}
