import { InMemoryMemoryStore } from '../../functions/orchestrator/adapters/in-memory/in-memory-memory-store.ts';
import { InMemoryRunStateStore } from '../../functions/orchestrator/adapters/in-memory/in-memory-run-state.ts';
import { InMemoryStepQueue } from '../../functions/orchestrator/adapters/in-memory/in-memory-step-queue.ts';
import { InMemoryToolRegistry } from '../../functions/orchestrator/adapters/in-memory/in-memory-tools.ts';
import { builtinTools } from '../../functions/orchestrator/adapters/tools/builtin-tools.ts';
import { memoryPortConformance } from '../conformance/memory-port.case.ts';
import { queuePortConformance } from '../conformance/queue-port.case.ts';
import { runStatePortConformance } from '../conformance/run-state-port.case.ts';
import { toolPortConformance } from '../conformance/tool-port.case.ts';

// The same suites as the AWS adapters run on the emulator, here on the in-process adapters.
runStatePortConformance('in memory', async () => new InMemoryRunStateStore());
memoryPortConformance('in memory', async () => new InMemoryMemoryStore());
toolPortConformance('in memory', async () => {
  const port = new InMemoryToolRegistry(new InMemoryMemoryStore());
  const grant = async (tenantId: string, toolIds: string[]) => {
    const auth = {
      tenant_id: tenantId,
      principal: { id: 'admin', type: 'user' as const },
      scopes: [],
      policy_context: {},
    };
    for (const id of toolIds)
      await port.register(auth, {
        tool_id: id,
        description: builtinTools[id]?.description ?? id,
        implementation: `builtin:${id}`,
      });
  };
  return { port, grant };
});
queuePortConformance('in memory', async () => {
  const port = new InMemoryStepQueue();
  return {
    port,
    received: async () => port.take(),
    deadlines: async () => port.deadlines().map((d) => d.message),
  };
});
