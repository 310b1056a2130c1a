import { createBufferedLambdaHandler } from '../../shared/http/lambda-adapter.ts';
import { composeOrchestrator } from '../composition/orchestrator-root.ts';

const root = composeOrchestrator();

/** Lambda entry: the Orchestrator's buffered REST API (runs, cancel, health). */
export const handler = createBufferedLambdaHandler(root.httpApp(), root.telemetry);
