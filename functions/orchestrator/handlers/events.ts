import { createStreamingLambdaHandler } from '../../shared/http/lambda-adapter.ts';
import { composeOrchestratorCore } from '../composition/orchestrator-core.ts';
import { orchestratorEventsHttpApp } from '../composition/orchestrator-events-http.ts';

// Most invocations only read events: the SQS and Step Functions adapters load on the first run
// creation or cancel (A2A, background responses) instead of at init, and only the streaming routes'
// declarations and handlers load at all.
const core = composeOrchestratorCore();

/** Lambda entry: a run's events over SSE (response streaming) or as a JSON page, A2A, background responses. */
export const handler = createStreamingLambdaHandler(orchestratorEventsHttpApp(core), core.telemetry);
