import { createStreamingLambdaHandler } from '../../shared/http/lambda-adapter.ts';
import { composeOrchestrator } from '../composition/orchestrator-root.ts';

// Most invocations only read events: the SQS and Step Functions adapters load on the first run
// creation or cancel (A2A, background responses) instead of at init.
const root = composeOrchestrator();

/** Lambda entry: a run's events over SSE (response streaming) or as a JSON page. */
export const handler = createStreamingLambdaHandler(root.httpApp(), root.telemetry);
