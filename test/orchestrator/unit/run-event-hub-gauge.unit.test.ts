import { describe, expect, it } from 'vitest';
import { InMemoryRunStateStore } from '../../../functions/orchestrator/adapters/in-memory/in-memory-run-state.ts';
import { RunEventHub } from '../../../functions/orchestrator/events/run-event-hub.ts';
import type { AuthContext } from '../../../functions/shared/auth/auth-context.ts';

const auth: AuthContext = {
  tenant_id: 'acme',
  principal: { id: 'user-1', type: 'user' },
  scopes: ['runs:read'],
  policy_context: {},
};

describe('open event streams', () => {
  it('returns the number of streams open in the process each time one opens or ends', () => {
    const reported: number[] = [];
    const hub = new RunEventHub({
      runs: new InMemoryRunStateStore(),
      timing: { pollMinMs: 10, pollMaxMs: 100, keepAliveMs: 15_000, maxDurationMs: 60_000, retryMs: 1000 },
      onOpenStreams: (open) => reported.push(open),
    });
    const first = hub.subscribe(auth, 'run_a', 0);
    const second = hub.subscribe({ ...auth, tenant_id: 'globex' }, 'run_b', 0);
    first.close();
    first.close();
    second.close();
    expect(reported).toEqual([1, 2, 1, 0]);
  });
});
