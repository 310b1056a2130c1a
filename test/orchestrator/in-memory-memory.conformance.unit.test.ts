import { InMemoryMemoryStore } from '../../functions/orchestrator/adapters/in-memory/in-memory-memory-store.ts';
import { memoryPortConformance } from '../conformance/memory-port.case.ts';

memoryPortConformance('in memory', async (options = {}) => new InMemoryMemoryStore(options));
