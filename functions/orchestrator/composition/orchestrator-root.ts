import type { EnvSource } from '../../shared/config/env.ts';
import { composeOrchestratorCore } from './orchestrator-core.ts';
import type { ComposeOrchestratorOptions } from './orchestrator-core.ts';
import { orchestratorEventsHttpApp } from './orchestrator-events-http.ts';
import { orchestratorHttpApp } from './orchestrator-http.ts';
import { orchestratorStepWorker } from './orchestrator-step-worker.ts';

export type { ComposeOrchestratorOptions, OrchestratorCore } from './orchestrator-core.ts';

/**
 * The Orchestrator's composition root: the one place that picks adapters for its ports, with every
 * function's part on one core, for the tests, which host them all in one process. The Lambda
 * entries build the core and only their own part (see handlers/), so each bundle loads only what
 * its function serves; the local node imports those entries, one core per function, as Lambda does.
 */
export function composeOrchestrator(env: EnvSource = process.env, options: ComposeOrchestratorOptions = {}) {
  const core = composeOrchestratorCore(env, options);
  return {
    config: core.config,
    telemetry: core.telemetry,
    /** The node's tenant directory and the admission that caches it. */
    tenancy: core.tenancy,
    /** The HTTP core of the API function: every route, the streaming ones included. */
    httpApp: () => orchestratorHttpApp(core),
    /** The HTTP core of the events function: the streaming routes only. */
    eventsHttpApp: () => orchestratorEventsHttpApp(core),
    /**
     * The step worker's parts: its settings, the engine, the redelivery backoff of retried steps, and
     * the driver whose step tasks it answers.
     */
    stepWorker: () => orchestratorStepWorker(core),
  };
}
