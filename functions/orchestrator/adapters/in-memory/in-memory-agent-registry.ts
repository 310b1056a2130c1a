import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import type { AgentDefinition, AgentRegistryPort } from '../../ports/agent-registry-port.ts';

/** AgentRegistryPort held in this process, for the unit tier: agents by tenant, copied in and out. */
export class InMemoryAgentRegistry implements AgentRegistryPort {
  readonly #agents = new Map<string, AgentDefinition>();

  async get(auth: AuthContext, agentId: string): Promise<AgentDefinition | undefined> {
    const agent = this.#agents.get(`${auth.tenant_id}/${agentId}`);
    return agent === undefined ? undefined : structuredClone(agent);
  }

  async put(auth: AuthContext, agent: AgentDefinition): Promise<void> {
    this.#agents.set(`${auth.tenant_id}/${agent.agent_id}`, structuredClone(agent));
  }
}
