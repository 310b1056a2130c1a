import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import { ConflictError, NotFoundError } from '../../../shared/errors/agentos-error.ts';
import { storageKeys } from '../../../shared/storage/keys.ts';
import type {
  AgentDefinition,
  AgentPage,
  AgentRegistryPort,
  AgentSpec,
} from '../../ports/agent-registry-port.ts';
import { pageOfIds } from '../id-page.ts';
import { agentFromStored } from '../stored-agent.ts';

type Entry = {
  /** Every version ever stored, by number; never changed once stored. */
  versions: Map<number, AgentDefinition>;
  /** The current version, or undefined once deleted. */
  current: number | undefined;
  latest: number;
};

/**
 * AgentRegistryPort held in one process's memory, for the unit tier and single-process use only
 * (nothing is shared between processes or survives a restart). It keeps the DynamoDB adapter's
 * semantics: immutable versions, a head that moves on update, deletion that keeps the versions,
 * tenants apart by storage key, definitions read back through the schema and copied in and out.
 */
export class InMemoryAgentRegistry implements AgentRegistryPort {
  /** Per tenant (keyed by its agent directory's storage key), the agents by id. */
  readonly #tenants = new Map<string, Map<string, Entry>>();
  readonly #now: () => Date;

  constructor(options: { now?: () => Date } = {}) {
    this.#now = options.now ?? (() => new Date());
  }

  async get(auth: AuthContext, agentId: string): Promise<AgentDefinition | undefined> {
    const entry = this.#entry(auth, agentId);
    return entry?.current === undefined ? undefined : this.#read(entry, entry.current, agentId);
  }

  async getVersion(
    auth: AuthContext,
    agentId: string,
    version: number,
  ): Promise<AgentDefinition | undefined> {
    const entry = this.#entry(auth, agentId);
    return entry === undefined ? undefined : this.#read(entry, version, agentId);
  }

  async list(auth: AuthContext, page: { limit: number; cursor?: string }): Promise<AgentPage> {
    const live = new Map<string, Entry>();
    for (const [id, entry] of this.#agentsOf(auth)) if (entry.current !== undefined) live.set(id, entry);
    const { ids, nextCursor } = pageOfIds(live.keys(), page);
    return {
      agents: ids.flatMap((id) => {
        const entry = live.get(id)!;
        return this.#read(entry, entry.current!, id) ?? [];
      }),
      nextCursor,
    };
  }

  async create(auth: AuthContext, agentId: string, spec: AgentSpec): Promise<AgentDefinition> {
    const entry = this.#entryFor(auth, agentId);
    if (entry.current !== undefined) throw new ConflictError(`Agent ${agentId} already exists`);
    const at = this.#now().toISOString();
    return this.#store(entry, agentId, spec, at, at);
  }

  async update(
    auth: AuthContext,
    agentId: string,
    spec: AgentSpec,
    expectedVersion?: number,
  ): Promise<AgentDefinition> {
    const entry = this.#entry(auth, agentId);
    if (entry?.current === undefined) throw new NotFoundError(`Agent ${agentId} not found`);
    if (expectedVersion !== undefined && expectedVersion !== entry.current)
      throw new ConflictError(
        `Agent ${agentId} is at version ${entry.current}, not ${expectedVersion}; read it again and retry`,
        { details: { current_version: entry.current } },
      );
    const createdAt = entry.versions.get(entry.current)!.created_at;
    return this.#store(entry, agentId, spec, createdAt, this.#now().toISOString());
  }

  async delete(auth: AuthContext, agentId: string): Promise<void> {
    const entry = this.#entry(auth, agentId);
    if (entry?.current === undefined) throw new NotFoundError(`Agent ${agentId} not found`);
    entry.current = undefined;
  }

  /** Stores `agent` exactly as given as the agent's current version (seeding and tests). */
  async put(auth: AuthContext, agent: AgentDefinition): Promise<void> {
    const entry = this.#entryFor(auth, agent.agent_id);
    const version = (agent as { version?: number }).version ?? 1;
    entry.versions.set(version, structuredClone(agent));
    entry.current = version;
    entry.latest = Math.max(entry.latest, version);
  }

  #agentsOf(auth: AuthContext): Map<string, Entry> {
    const key = storageKeys.agentIndex(auth.tenant_id);
    let agents = this.#tenants.get(key);
    if (agents === undefined) this.#tenants.set(key, (agents = new Map()));
    return agents;
  }

  #entry(auth: AuthContext, agentId: string): Entry | undefined {
    return this.#agentsOf(auth).get(agentId);
  }

  #entryFor(auth: AuthContext, agentId: string): Entry {
    // Validates the id as a storage key segment, as on DynamoDB.
    storageKeys.agent(auth.tenant_id, agentId);
    const agents = this.#agentsOf(auth);
    let entry = agents.get(agentId);
    if (entry === undefined)
      agents.set(agentId, (entry = { versions: new Map(), current: undefined, latest: 0 }));
    return entry;
  }

  #store(
    entry: Entry,
    agentId: string,
    spec: AgentSpec,
    createdAt: string,
    updatedAt: string,
  ): AgentDefinition {
    const version = entry.latest + 1;
    const agent: AgentDefinition = {
      ...structuredClone(spec),
      object: 'agent',
      agent_id: agentId,
      version,
      created_at: createdAt,
      updated_at: updatedAt,
    };
    entry.versions.set(version, structuredClone(agent));
    entry.current = version;
    entry.latest = version;
    return agent;
  }

  #read(entry: Entry, version: number, agentId: string): AgentDefinition | undefined {
    const stored = entry.versions.get(version);
    return stored === undefined
      ? undefined
      : agentFromStored(structuredClone(stored) as Record<string, unknown>, agentId);
  }
}
