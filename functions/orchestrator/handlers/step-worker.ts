import { composeOrchestratorCore } from '../composition/orchestrator-core.ts';
import { orchestratorStepWorker } from '../composition/orchestrator-step-worker.ts';
import * as runTransport from '../composition/run-transport.ts';
import * as stepTools from '../composition/step-tools.ts';
import { createStepWorkerHandler } from '../adapters/sqs/sqs-step-worker.ts';

// Every invocation steps runs: the SQS, Step Functions and tool adapters load at init.
const core = composeOrchestratorCore(process.env, { runTransport, stepTools });
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
