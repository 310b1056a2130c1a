import type { CheckRecord, Outcome } from '../reports/operator-report.ts';
import { awsErrorInfo, describeAwsError } from './preflight-aws-errors.ts';

/**
 * One preflight check, ready for a report: what was checked, how it ended, what was found and, when
 * it failed, the exact fix (a command or a setting).
 */
export type PreflightCheck = CheckRecord & { fix?: string };

/** A check's verdict, before it is timed and named. */
export type Verdict = { outcome: Outcome; detail: string; fix?: string };

/** A passed check's verdict. */
export function ok(detail: string): Verdict {
  return { outcome: 'ok', detail };
}

/** A failed check's verdict, with its fix when one is known. */
export function failed(detail: string, fix?: string): Verdict {
  return fix === undefined ? { outcome: 'failed', detail } : { outcome: 'failed', detail, fix };
}

/** A check that did not run, and why. */
export function skipped(detail: string): Verdict {
  return { outcome: 'skipped', detail };
}

/** A check that did not run, as a finished record. */
export function skippedCheck(name: string, detail: string): PreflightCheck {
  return { name, outcome: 'skipped', duration_ms: 0, detail };
}

/**
 * Runs `work` as the check `name`, timing it. An error it did not expect is not lost: the check fails
 * with the error in its detail.
 */
export async function timedVerdict(name: string, work: () => Promise<Verdict>): Promise<PreflightCheck> {
  const started = Date.now();
  let verdict: Verdict;
  try {
    verdict = await work();
  } catch (error) {
    verdict = failed(`unexpected error: ${describeAwsError(awsErrorInfo(error))}`);
  }
  return { name, duration_ms: Date.now() - started, ...verdict };
}
