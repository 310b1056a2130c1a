import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { AgentDefinition, AgentSpec } from '../schemas/agent.ts';

export type { AgentDefinition, AgentSpec };

/** A page of agents, newest version of each, ordered by agent id. */
export type AgentPage = { agents: AgentDefinition[]; nextCursor: string | null };

/**
 * A tenant's agent definitions (HLD §3.1 AgentRegistry). Every update makes a new immutable version;
 * versions outlive the agent's deletion, so a run always finds the version it started with.
 */
export interface AgentRegistryPort {
  /** The current version, or undefined when the agent does not exist or was deleted. */
  get(auth: AuthContext, agentId: string): Promise<AgentDefinition | undefined>;
  /** One version, deleted agent or not. */
  getVersion(auth: AuthContext, agentId: string, version: number): Promise<AgentDefinition | undefined>;
  list(auth: AuthContext, page: { limit: number; cursor?: string }): Promise<AgentPage>;
  /** Version 1 of a new agent; throws ConflictError when the id is taken (a deleted id may be reused, as version n+1). */
  create(auth: AuthContext, agentId: string, spec: AgentSpec): Promise<AgentDefinition>;
  /**
   * The next version; NotFoundError when absent or deleted, ConflictError when `expectedVersion` is
   * given and is not the current one.
   */
  update(
    auth: AuthContext,
    agentId: string,
    spec: AgentSpec,
    expectedVersion?: number,
  ): Promise<AgentDefinition>;
  /** Deletes the agent (its versions stay for the runs that use them); NotFoundError when absent. */
  delete(auth: AuthContext, agentId: string): Promise<void>;
}
