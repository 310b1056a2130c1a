import { createBufferedLambdaHandler } from '../../shared/http/lambda-adapter.ts';
import { composeOrchestrator } from '../composition/orchestrator-root.ts';
import * as runTransport from '../composition/run-transport.ts';

// Runs are created and canceled here: the SQS and Step Functions adapters load at init.
const root = composeOrchestrator(process.env, { runTransport });

/** Lambda entry: the Orchestrator's buffered REST API (runs, cancel, health). */
export const handler = createBufferedLambdaHandler(root.httpApp(), root.telemetry);
