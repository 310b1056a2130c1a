import { createStreamingLambdaHandler } from '../../shared/http/lambda-adapter.ts';
import { composeOrchestrator } from '../composition/orchestrator-root.ts';

const root = composeOrchestrator();

/** Lambda entry: a run's events over SSE (response streaming) or as a JSON page. */
export const handler = createStreamingLambdaHandler(root.httpApp(), root.telemetry);
