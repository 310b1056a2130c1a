import { composeOrchestrator } from '../composition/orchestrator-root.ts';
import * as runTransport from '../composition/run-transport.ts';
import * as stepTools from '../composition/step-tools.ts';
import { createStepWorkerHandler } from '../adapters/sqs/sqs-step-worker.ts';

// Every invocation steps runs: the SQS, Step Functions and tool adapters load at init.
const root = composeOrchestrator(process.env, { runTransport, stepTools });
const worker = root.stepWorker();

/** Lambda entry: the SQS step worker. */
export const handler = createStepWorkerHandler({
  engine: worker.engine,
  telemetry: root.telemetry,
  maxAttempts: worker.config.stepMaxAttempts,
  maxReceives: worker.config.maxReceives,
  redeliverAfter: worker.redeliverAfter,
  driver: worker.driver,
  reportFailure: worker.reportFailure,
  stepAge: worker.stepAge,
  stopper: worker.stopper,
});
