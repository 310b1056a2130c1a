import type { AuthContext } from '../../shared/auth/auth-context.ts';

/** A unit of work for the step worker. */
export type StepTask = { runId: string; step: number };

/** Hands run steps to workers (HLD §3.1 QueuePort). Delivery is at least once. */
export interface QueuePort {
  enqueueStep(auth: AuthContext, task: StepTask): Promise<void>;
}
