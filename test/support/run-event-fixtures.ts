import type { RunEvent } from '../../functions/orchestrator/schemas/event.ts';

/** The Auth Context of the unit tests that follow one run's events (tenant `acme`). */
export const followerAuth = {
  tenant_id: 'acme',
  principal: { id: 'u', type: 'user' as const },
  scopes: [],
  policy_context: {},
};

/** Event `sequence` of the run `run_x`, of `type` (`step.started` by default). */
export function runEvent(sequence: number, type: RunEvent['type'] = 'step.started'): RunEvent {
  return {
    object: 'event',
    event_id: `e${sequence}`,
    run_id: 'run_x',
    sequence,
    type,
    time: '2026-01-01T00:00:00.000Z',
    data: {},
  };
}
