import { outgoingTraceparent } from '../../shared/observability/trace-context.ts';
import { newTraceparent } from '../federation/event-pusher.ts';
import { createRunStopper } from '../runtime/run-stopper.ts';
import type { RunStopper } from '../runtime/run-stopper.ts';
import { toRunView } from '../runtime/run-service.ts';
import type { OrchestratorCore } from './orchestrator-core.ts';

const stoppers = new WeakMap<OrchestratorCore, RunStopper>();

/**
 * The operator kill switch (HLD §10.2) on `core`, one per core: a request stops a page of runs, the
 * step worker the rest. Apart from the core because the events function never stops runs.
 */
export function runStopperOf(core: OrchestratorCore): RunStopper {
  const existing = stoppers.get(core);
  if (existing !== undefined) return existing;
  const { runs, driver, sink, reportFailure, now, runSlots, federatedRuns, telemetry, queue } = core;
  const stopper = createRunStopper({
    runs,
    driver,
    sink,
    reportFailure,
    now,
    // An operator's stop frees the run's slots at once, as every terminal state does.
    onStopped: async (tenantId, runId) => {
      await runSlots.release(tenantId, runId);
    },
    // A stopped run that runs on a peer is canceled there too (HLD §7.3).
    cancelForwarded: async (auth, run) => {
      await federatedRuns.cancelRemote(auth, toRunView(run), outgoingTraceparent() ?? newTraceparent());
    },
    audit: (message, record) => telemetry.logger.info(message, { audit: record }),
    continuation: queue,
  });
  stoppers.set(core, stopper);
  return stopper;
}
