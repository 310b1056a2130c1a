import { InMemoryMemoryStore } from '../../functions/orchestrator/adapters/in-memory/in-memory-memory-store.ts';
import { InMemoryToolRegistry } from '../../functions/orchestrator/adapters/in-memory/in-memory-tools.ts';
import { grantBuiltins, toolPortConformance } from '../conformance/tool-port.case.ts';

toolPortConformance('in memory', async () => {
  const port = new InMemoryToolRegistry(new InMemoryMemoryStore());
  return { port, grant: grantBuiltins((auth, tool) => port.register(auth, tool)) };
});
