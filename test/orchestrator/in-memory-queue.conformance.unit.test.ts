import { InMemoryStepQueue } from '../../functions/orchestrator/adapters/in-memory/in-memory-step-queue.ts';
import { deliveryWindowSeconds, queuePortConformance } from '../conformance/queue-port.case.ts';

// The delivery window passes on the queue's injected clock, so deadlines fall due without waiting.
queuePortConformance('in memory', async () => {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const port = new InMemoryStepQueue({ now: () => new Date(now) });
  return {
    port,
    deadlineOncePerRun: true,
    received: async () => {
      now += deliveryWindowSeconds * 1000;
      return port.take();
    },
  };
});
