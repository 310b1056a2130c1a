import { InMemoryPeerRegistry } from '../../functions/orchestrator/adapters/in-memory/in-memory-peer-registry.ts';
import { peerRegistryPortConformance } from '../conformance/peer-registry-port.case.ts';

peerRegistryPortConformance('in memory', async () => new InMemoryPeerRegistry());
