import { InMemoryMemoryStore } from '../../functions/orchestrator/adapters/in-memory/in-memory-memory-store.ts';
import { InMemoryRunStateStore } from '../../functions/orchestrator/adapters/in-memory/in-memory-run-state.ts';
import { InMemoryStepQueue } from '../../functions/orchestrator/adapters/in-memory/in-memory-step-queue.ts';
import { InMemoryToolRegistry } from '../../functions/orchestrator/adapters/in-memory/in-memory-tools.ts';
import { memoryPortConformance } from '../conformance/memory-port.case.ts';
import { queuePortConformance } from '../conformance/queue-port.case.ts';
import { runStatePortConformance } from '../conformance/run-state-port.case.ts';
import { grantBuiltins, toolPortConformance } from '../conformance/tool-port.case.ts';

// The same suites as the AWS adapters run on the emulator, here on the in-process adapters.
runStatePortConformance('in memory', async () => new InMemoryRunStateStore());
memoryPortConformance('in memory', async () => new InMemoryMemoryStore());
toolPortConformance('in memory', async () => {
  const port = new InMemoryToolRegistry(new InMemoryMemoryStore());
  return { port, grant: grantBuiltins((auth, tool) => port.register(auth, tool)) };
});
queuePortConformance('in memory', async () => {
  const port = new InMemoryStepQueue();
  return {
    port,
    received: async () => port.take(),
    deadlines: async () => port.deadlines().map((d) => d.message),
  };
});
