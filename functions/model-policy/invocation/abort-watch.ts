import { setTimeout as sleep } from 'node:timers/promises';
import type { GatewayDeps, PreparedCall } from './call-preparation.ts';
import { failureReporter } from './call-preparation.ts';

/** How often an in-flight call looks for an abort request (HLD §5.3). */
export const abortPollMs = 2000;

/** A watch on one in-flight call's claim; `stop` ends it (the call finished). */
export type AbortWatch = { stop(): void };

/**
 * Watches an in-flight call's request-id claim for an abort request (`POST
 * /v1/models/requests/{request_id}:abort`, HLD §5.3): every {@link abortPollMs}, only while the call
 * lasts and never past its deadline, one consistent read of the claim. When the abort is set,
 * `abort` fires, and the call ends exactly as if its client went away: the invocation holding the
 * claim settles it, charged what was produced and the rest released. A failed read is reported and
 * the watch goes on; the call's deadline still bounds it.
 */
export function watchForAbort(deps: GatewayDeps, call: PreparedCall, abort: AbortController): AbortWatch {
  const stopped = new AbortController();
  const until = Date.now() + call.deadlineMs;
  const intervalMs = deps.abortPollMs ?? abortPollMs;
  const { auth, requestId, signal } = call.input;
  void (async () => {
    while (!stopped.signal.aborted && !signal.aborted && Date.now() < until) {
      try {
        await sleep(intervalMs, undefined, { signal: stopped.signal, ref: false });
      } catch {
        return; // stopped
      }
      if (stopped.signal.aborted || signal.aborted) return;
      try {
        if (await deps.ledger.abortRequested(auth, requestId)) {
          deps.log.info('a model call was asked to stop; aborting it', { request_id: requestId });
          abort.abort(new Error('the call was asked to stop'));
          return;
        }
      } catch (error) {
        failureReporter(deps)('could not read whether a model call was asked to stop', error, {});
      }
    }
  })();
  return { stop: () => stopped.abort() };
}
