import { createBufferedLambdaHandler } from '../../shared/http/lambda-adapter.ts';
import { composeOrchestratorCore } from '../composition/orchestrator-core.ts';
import { orchestratorHttpApp } from '../composition/orchestrator-http.ts';
import * as runTransport from '../composition/run-transport.ts';

// Runs are created and canceled here: the SQS and Step Functions adapters load at init.
const core = composeOrchestratorCore(process.env, { runTransport });

/** Lambda entry: the Orchestrator's buffered REST API (runs, cancel, health). */
export const handler = createBufferedLambdaHandler(orchestratorHttpApp(core), core.telemetry);
