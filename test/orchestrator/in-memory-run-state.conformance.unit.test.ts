import { InMemoryRunStateStore } from '../../functions/orchestrator/adapters/in-memory/in-memory-run-state.ts';
import { InMemoryRateLimiter } from '../../functions/shared/limits/adapters/in-memory-limits.ts';
import type { RateLimiterPort } from '../../functions/shared/limits/limiter-port.ts';
import { runStatePortConformance } from '../conformance/run-state-port.case.ts';

runStatePortConformance('in memory', async () => new InMemoryRunStateStore(), {
  // Its own kind: taken in the same step as the run is stored.
  'an in-memory limiter': async () => new InMemoryRateLimiter(),
  // Another kind (here the same limiter behind a port of its own): awaited before the run is stored.
  'a limiter of another kind': async () => {
    const inner = new InMemoryRateLimiter();
    const other: RateLimiterPort = {
      take: (key, limit) => inner.take(key, limit),
      knownRefusal: (key, limit) => inner.knownRefusal(key, limit),
    };
    return other;
  },
});
