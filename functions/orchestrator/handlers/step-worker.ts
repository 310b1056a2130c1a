import { composeOrchestrator } from '../composition/orchestrator-root.ts';
import { createStepWorkerHandler } from '../adapters/sqs/sqs-step-worker.ts';

const root = composeOrchestrator();
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
