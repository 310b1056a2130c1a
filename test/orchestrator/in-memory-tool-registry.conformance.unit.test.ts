import { InMemoryToolRegistry } from '../../functions/orchestrator/adapters/in-memory/in-memory-tool-registry.ts';
import { toolRegistryPortConformance } from '../conformance/tool-registry-port.case.ts';

toolRegistryPortConformance('in memory', async () => new InMemoryToolRegistry());
