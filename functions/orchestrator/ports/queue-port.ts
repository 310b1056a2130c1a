import type { AuthContext } from '../../shared/auth/auth-context.ts';

/**
 * A unit of work for the step worker: delivered after `delaySeconds` (at most 900) when given;
 * `triedBefore`: the tries the step already had elsewhere, which its deliveries add to.
 */
export type StepTask = { runId: string; step: number; delaySeconds?: number; triedBefore?: number };

/** The longest a step can be handed to the queue for later (SQS's longest message delay). */
export const maxStepDelaySeconds = 900;

/** Hands run steps to workers (HLD §3.1 QueuePort). Delivery is at least once. */
export interface QueuePort {
  enqueueStep(auth: AuthContext, task: StepTask): Promise<void>;
  /** Arranges for a deadline task to reach the workers after `afterSeconds` (idempotent per run). */
  scheduleDeadline(auth: AuthContext, task: { runId: string; afterSeconds: number }): Promise<void>;
}
