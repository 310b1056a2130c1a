import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { AgentDefinition } from '../schemas/agent.ts';

export type { AgentDefinition };

/** Reads and writes a tenant's agent definitions. */
export interface AgentRegistryPort {
  get(auth: AuthContext, agentId: string): Promise<AgentDefinition | undefined>;
  put(auth: AuthContext, agent: AgentDefinition): Promise<void>;
}
