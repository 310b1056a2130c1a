import type { RunStatus } from '../schemas/run.ts';

/**
 * The run lifecycle: queued → running → completed | failed | canceled. A queued run may also be
 * canceled before it starts, or fail when it cannot be scheduled. Terminal states have no way out.
 * Commits are conditional on the states this table allows, so an illegal transition is never written.
 */
const allowed: Record<RunStatus, readonly RunStatus[]> = {
  queued: ['running', 'canceled', 'failed'],
  running: ['completed', 'failed', 'canceled'],
  completed: [],
  failed: [],
  canceled: [],
};

/** States from which a run may move to `to`; commits are made conditional on them. */
export function statesLeadingTo(to: RunStatus): RunStatus[] {
  return (Object.keys(allowed) as RunStatus[]).filter((from) => allowed[from].includes(to));
}

/** True for completed, failed and canceled. */
export function isTerminal(status: RunStatus): boolean {
  return allowed[status].length === 0;
}
