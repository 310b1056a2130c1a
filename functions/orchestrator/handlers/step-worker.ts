import { composeOrchestrator } from '../composition/orchestrator-root.ts';
import { createStepWorkerHandler } from '../adapters/sqs/sqs-step-worker.ts';

const root = composeOrchestrator();

/** Lambda entry: the SQS step worker. */
export const handler = createStepWorkerHandler({
  engine: root.stepEngine(),
  telemetry: root.telemetry,
  maxAttempts: root.config.stepMaxAttempts,
  redeliverAfter: root.redeliverAfter,
});
