import { InMemorySettlementQueue } from '../../../functions/model-policy/adapters/in-memory/in-memory-settlement-queue.ts';
import { settlementQueuePortConformance } from '../../conformance/settlement-queue-port.case.ts';

settlementQueuePortConformance('in memory', async () => {
  const port = new InMemorySettlementQueue();
  return { port, taken: async () => port.take() };
});
