import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { RunStatePort } from '../ports/run-state-port.ts';
import { terminalEventTypes } from '../schemas/event.ts';
import { isTerminal } from '../runtime/run-state-machine.ts';
import type { RunStatus } from '../schemas/run.ts';
import { gaplessAfter } from './event-order.ts';
import { formatSseComment, formatSseEvent, formatSseRetry } from './sse-format.ts';
import { systemClock } from '../../shared/timing/clock.ts';
import type { Clock } from '../../shared/timing/clock.ts';

/** Timing of an event stream. */
export type EventStreamTiming = {
  /** Poll interval right after events arrived. */
  pollMinMs: number;
  /** Poll interval the stream backs off to while idle. */
  pollMaxMs: number;
  /** A keep-alive comment goes out when nothing was sent for this long (at most 15 s). */
  keepAliveMs: number;
  /** The stream ends after this long so the function never hits its timeout; clients reconnect. */
  maxDurationMs: number;
  /** The `retry:` hint. */
  retryMs: number;
};

export const defaultEventStreamTiming: EventStreamTiming = {
  pollMinMs: 50,
  pollMaxMs: 500,
  keepAliveMs: 15_000,
  maxDurationMs: 14 * 60 * 1000,
  retryMs: 1_000,
};

/**
 * Yields SSE frames for a run: first the stored events after `after` (replay), then new ones as they
 * are committed (follow), until the terminal event has been sent, the client leaves or the
 * stream's time is up.
 */
export async function* followRunEvents(options: {
  runs: RunStatePort;
  auth: AuthContext;
  runId: string;
  after: number;
  initialStatus: RunStatus;
  timing: EventStreamTiming;
  signal: AbortSignal;
  /** The real clock unless a test injects one. */
  clock?: Clock;
}): AsyncGenerator<string> {
  const { runs, auth, runId, timing, signal } = options;
  const clock = options.clock ?? systemClock;
  const startedAt = clock.now();
  let after = options.after;
  let lastSentAt = clock.now();
  let pollMs = timing.pollMinMs;
  yield formatSseRetry(timing.retryMs);
  // Keep-alives go out a little before the interval ends, so a quiet stream never exceeds it.
  const keepAliveDue = timing.keepAliveMs - Math.min(500, Math.floor(timing.keepAliveMs / 10));
  while (!signal.aborted) {
    const page = await runs.listEvents(auth, runId, { after, limit: 100 });
    const events = gaplessAfter(page, after);
    for (const event of events) {
      yield formatSseEvent(event);
      after = event.sequence;
      lastSentAt = clock.now();
      if (terminalEventTypes.has(event.type)) return;
    }
    if (events.length === 100) continue;
    // A run that was already finished when the client connected has nothing more to send.
    if (page.length === 0 && isTerminal(options.initialStatus)) return;
    if (clock.now() - startedAt >= timing.maxDurationMs) return;
    if (clock.now() - lastSentAt >= keepAliveDue) {
      yield formatSseComment('keep-alive');
      lastSentAt = clock.now();
    }
    pollMs = events.length > 0 || page.length > 0 ? timing.pollMinMs : Math.min(timing.pollMaxMs, pollMs * 2);
    await clock.sleep(Math.max(0, Math.min(pollMs, keepAliveDue - (clock.now() - lastSentAt))), signal);
  }
}
