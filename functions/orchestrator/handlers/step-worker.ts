import { composeOrchestrator } from '../composition/orchestrator-root.ts';
import { createStepWorkerHandler } from '../adapters/sqs/sqs-step-worker.ts';
// The queue's redrive policy comes from the one resource description the stack also builds from.
import { stepQueueDefinition } from '../../../infra/resources/definitions.ts';

const root = composeOrchestrator();

/** Lambda entry: the SQS step worker. */
export const handler = createStepWorkerHandler({
  engine: root.stepEngine(),
  telemetry: root.telemetry,
  maxAttempts: root.config.stepMaxAttempts,
  maxReceives: stepQueueDefinition.maxReceiveCount,
  redeliverAfter: root.redeliverAfter,
});
