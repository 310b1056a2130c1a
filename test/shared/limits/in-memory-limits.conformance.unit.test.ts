import {
  InMemoryRateLimiter,
  InMemorySlotPool,
} from '../../../functions/shared/limits/adapters/in-memory-limits.ts';
import { rateLimiterPortConformance } from '../../conformance/rate-limiter-port.case.ts';
import { slotPoolPortConformance } from '../../conformance/slot-pool-port.case.ts';
import { ManualClock } from '../../support/manual-clock.ts';

rateLimiterPortConformance('in memory', () => {
  const clock = new ManualClock();
  return Promise.resolve({ limiter: new InMemoryRateLimiter({ clock }), advance: (ms) => clock.advance(ms) });
});

slotPoolPortConformance('in memory', () => {
  const clock = new ManualClock();
  return Promise.resolve({ pool: new InMemorySlotPool({ clock }), advance: (ms) => clock.advance(ms) });
});
