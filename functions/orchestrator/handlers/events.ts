import { createStreamingApiHandler } from '../../shared/http/api-handler.ts';
import { composeOrchestrator } from '../composition/orchestrator-root.ts';

const root = composeOrchestrator();

/** Lambda entry: a run's events over SSE (response streaming) or as a JSON page. */
export const handler = createStreamingApiHandler({
  routes: root.eventRoutes(),
  verifier: root.verifier(),
  telemetry: root.telemetry,
});
