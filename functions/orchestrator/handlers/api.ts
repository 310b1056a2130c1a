import { createBufferedApiHandler } from '../../shared/http/api-handler.ts';
import { composeOrchestrator } from '../composition/orchestrator-root.ts';

const root = composeOrchestrator();

/** Lambda entry: the Orchestrator's buffered REST API (runs, cancel, health). */
export const handler = createBufferedApiHandler({
  routes: root.apiRoutes(),
  verifier: root.verifier(),
  telemetry: root.telemetry,
});
