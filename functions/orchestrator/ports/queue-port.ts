import type { AuthContext } from '../../shared/auth/auth-context.ts';

/** A unit of work for the step worker. */
export type StepTask = { runId: string; step: number };

/** Hands run steps to workers (HLD §3.1 QueuePort). Delivery is at least once. */
export interface QueuePort {
  enqueueStep(auth: AuthContext, task: StepTask): Promise<void>;
  /** Arranges for a deadline task to reach the workers after `afterSeconds` (idempotent per run). */
  scheduleDeadline(auth: AuthContext, task: { runId: string; afterSeconds: number }): Promise<void>;
}
