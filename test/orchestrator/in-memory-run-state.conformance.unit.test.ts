import { InMemoryRunStateStore } from '../../functions/orchestrator/adapters/in-memory/in-memory-run-state.ts';
import { runStatePortConformance } from '../conformance/run-state-port.case.ts';

runStatePortConformance('in memory', async () => new InMemoryRunStateStore());
