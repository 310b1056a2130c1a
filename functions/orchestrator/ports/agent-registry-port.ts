import type { AuthContext } from '../../shared/auth/auth-context.ts';

/** What an agent is: its model, its instructions, its tools and its limits. */
export type AgentDefinition = {
  agent_id: string;
  name: string;
  model_ref: string;
  system_prompt: string;
  tool_ids: string[];
  max_steps: number;
  max_tokens_per_step: number;
};

/** Reads and writes a tenant's agent definitions. */
export interface AgentRegistryPort {
  get(auth: AuthContext, agentId: string): Promise<AgentDefinition | undefined>;
  put(auth: AuthContext, agent: AgentDefinition): Promise<void>;
}
