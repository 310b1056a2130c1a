import { ConflictError } from '../../shared/errors/agentos-error.ts';
import type { RunStatus } from '../schemas/run.ts';

/**
 * The run lifecycle: queued → running → completed | failed | canceled. A queued run may also be
 * canceled before it starts, or fail when it cannot be scheduled. Terminal states have no way out.
 */
const allowed: Record<RunStatus, readonly RunStatus[]> = {
  queued: ['running', 'canceled', 'failed'],
  running: ['completed', 'failed', 'canceled'],
  completed: [],
  failed: [],
  canceled: [],
};

/** True when `to` may follow `from`. */
export function canTransition(from: RunStatus, to: RunStatus): boolean {
  return allowed[from].includes(to);
}

/** States from which a run may move to `to`; commits are made conditional on them. */
export function statesLeadingTo(to: RunStatus): RunStatus[] {
  return (Object.keys(allowed) as RunStatus[]).filter((from) => allowed[from].includes(to));
}

/** True for completed, failed and canceled. */
export function isTerminal(status: RunStatus): boolean {
  return allowed[status].length === 0;
}

/** Throws when `from → to` is not a legal transition. */
export function assertTransition(from: RunStatus, to: RunStatus): void {
  if (!canTransition(from, to)) {
    throw new ConflictError(`A ${from} run cannot become ${to}`, { details: { status: from } });
  }
}
