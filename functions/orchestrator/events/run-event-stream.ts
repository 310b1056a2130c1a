import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { RunStatePort } from '../ports/run-state-port.ts';
import type { RunTail } from './run-event-hub.ts';
import { terminalEventTypes } from '../schemas/event.ts';
import { isTerminal } from '../runtime/run-state-machine.ts';
import type { RunStatus } from '../schemas/run.ts';
import type { RunEvent } from '../schemas/event.ts';
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
 * stream's time is up. Streams of one run share the hub's one reader of it; a stream behind what
 * that reader keeps catches up from the store on its own. The subscription is closed when the
 * stream ends; its owner also closes it when the request is aborted (closing twice is harmless).
 */
export async function* followRunEvents(options: {
  runs: RunStatePort;
  subscription: { tail: RunTail; close(): void };
  auth: AuthContext;
  runId: string;
  after: number;
  initialStatus: RunStatus;
  timing: EventStreamTiming;
  signal: AbortSignal;
  /** The real clock unless a test injects one. */
  clock?: Clock;
  /** How one event is framed; the run events API's framing unless another protocol (A2A) frames it. */
  format?: (event: RunEvent) => string;
}): AsyncGenerator<string> {
  const { runs, auth, runId, timing, signal, subscription } = options;
  const { tail } = subscription;
  const clock = options.clock ?? systemClock;
  const format = options.format ?? formatSseEvent;
  try {
    const startedAt = clock.now();
    let after = options.after;
    let lastSentAt = clock.now();
    yield formatSseRetry(timing.retryMs);
    // Keep-alives go out a little before the interval ends, so a quiet stream never exceeds it.
    const keepAliveDue = timing.keepAliveMs - Math.min(500, Math.floor(timing.keepAliveMs / 10));
    while (!signal.aborted) {
      const seen = tail.version;
      let events = tail.eventsAfter(after);
      const behind = events === undefined;
      if (events === undefined) {
        events = gaplessAfter(await runs.listEvents(auth, runId, { after, limit: 100 }), after);
      }
      for (const event of events) {
        yield format(event);
        after = event.sequence;
        lastSentAt = clock.now();
        if (terminalEventTypes.has(event.type)) return;
      }
      if (behind && events.length > 0) continue;
      // A run that was already finished when the client connected has nothing more to send.
      if (isTerminal(options.initialStatus) && tail.caughtUp && after >= tail.last) return;
      if (tail.terminal && after >= tail.last) return;
      const elapsed = clock.now() - startedAt;
      if (elapsed >= timing.maxDurationMs) return;
      if (clock.now() - lastSentAt >= keepAliveDue) {
        yield formatSseComment('keep-alive');
        lastSentAt = clock.now();
      }
      const untilKeepAlive = keepAliveDue - (clock.now() - lastSentAt);
      await tail.changed(seen, Math.max(0, Math.min(untilKeepAlive, timing.maxDurationMs - elapsed)), signal);
    }
  } finally {
    subscription.close();
  }
}
