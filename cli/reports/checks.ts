import type { CheckRecord } from './operator-report.ts';

/** Runs a check, timing it; a thrown error becomes a failed check with its message. */
export async function timedCheck(name: string, work: () => Promise<string>): Promise<CheckRecord> {
  const started = Date.now();
  try {
    return { name, outcome: 'ok', duration_ms: Date.now() - started, detail: await work() };
  } catch (error) {
    return { name, outcome: 'failed', duration_ms: Date.now() - started, detail: error instanceof Error ? error.message : String(error) };
  }
}

/** A health check: `url` answers with a status below 500 within three seconds. */
export function httpCheck(name: string, url: string, init: RequestInit = {}): Promise<CheckRecord> {
  return timedCheck(name, async () => {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(3000) });
    if (response.status >= 500) throw new Error(`HTTP ${response.status}`);
    return `HTTP ${response.status}`;
  });
}
