import { describe, expect, it } from 'vitest';
import { isTerminal, statesLeadingTo } from '../../../functions/orchestrator/runtime/run-state-machine.ts';

describe('run state machine', () => {
  it('returns the states each status may be reached from', () => {
    expect(statesLeadingTo('running')).toEqual(['queued']);
    expect(statesLeadingTo('completed')).toEqual(['running']);
    expect(statesLeadingTo('canceled')).toEqual(['queued', 'running']);
    expect(statesLeadingTo('failed')).toEqual(['queued', 'running']);
    expect(statesLeadingTo('queued')).toEqual([]);
  });

  it('treats completed, failed and canceled as terminal', () => {
    expect(
      ['queued', 'running', 'completed', 'failed', 'canceled'].filter((s) => isTerminal(s as never)),
    ).toEqual(['completed', 'failed', 'canceled']);
  });
});
