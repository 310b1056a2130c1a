import { composeOrchestratorCore } from '../composition/orchestrator-core.ts';
import { orchestratorStepWorker } from '../composition/orchestrator-step-worker.ts';
import * as runTransport from '../composition/run-transport.ts';
import { createStepWorkerHandler } from '../adapters/sqs/sqs-step-worker.ts';

// Every invocation steps runs: the SQS and Step Functions adapters load at init. The tools (their
// catalog, HTTP tools' Secrets Manager credentials) load with the first step of an agent that has
// tools, and argument validation with the first tool call: an agent without tools needs none.
const core = composeOrchestratorCore(process.env, { runTransport });
const worker = orchestratorStepWorker(core);

/** Lambda entry: the SQS step worker. */
export const handler = createStepWorkerHandler({
  engine: worker.engine,
  telemetry: core.telemetry,
  maxAttempts: worker.config.stepMaxAttempts,
  maxReceives: worker.config.maxReceives,
  redeliverAfter: worker.redeliverAfter,
  driver: worker.driver,
  reportFailure: worker.reportFailure,
  stepAge: worker.stepAge,
  stopper: worker.stopper,
});
