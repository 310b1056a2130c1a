import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import { InternalError } from '../../../shared/errors/agentos-error.ts';
import { storageKeys } from '../../../shared/storage/keys.ts';
import type { AgentDefinition, AgentRegistryPort } from '../../ports/agent-registry-port.ts';
import { AgentDefinitionSchema } from '../../schemas/agent.ts';

/**
 * AgentRegistryPort held in one process's memory, for the unit tier and single-process use only
 * (nothing is shared between processes or survives a restart). Agents are keyed by tenant through
 * the same storage keys as on DynamoDB, and read back through the same schema (so defaults apply and
 * a malformed definition is an internal error, as there). Definitions are copied in and out.
 */
export class InMemoryAgentRegistry implements AgentRegistryPort {
  readonly #agents = new Map<string, AgentDefinition>();

  async get(auth: AuthContext, agentId: string): Promise<AgentDefinition | undefined> {
    const agent = this.#agents.get(storageKeys.agent(auth.tenant_id, agentId));
    if (agent === undefined) return undefined;
    const parsed = AgentDefinitionSchema.safeParse(structuredClone(agent));
    if (!parsed.success)
      throw new InternalError(`Stored agent ${agentId} is malformed`, { cause: parsed.error });
    return parsed.data;
  }

  /** The stored definition when it is that version (one version is kept per agent here). */
  async getVersion(
    auth: AuthContext,
    agentId: string,
    version: number,
  ): Promise<AgentDefinition | undefined> {
    const agent = await this.get(auth, agentId);
    return agent?.version === version ? agent : undefined;
  }

  async put(auth: AuthContext, agent: AgentDefinition): Promise<void> {
    this.#agents.set(storageKeys.agent(auth.tenant_id, agent.agent_id), structuredClone(agent));
  }
}
