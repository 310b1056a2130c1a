import { InMemoryAgentRegistry } from '../../functions/orchestrator/adapters/in-memory/in-memory-agent-registry.ts';
import { agentRegistryPortConformance } from '../conformance/agent-registry-port.case.ts';

agentRegistryPortConformance('in memory', async () => new InMemoryAgentRegistry());
