import type { AgentRegistryPort } from '../../functions/orchestrator/ports/agent-registry-port.ts';
import { AgentDefinitionSchema } from '../../functions/orchestrator/schemas/agent.ts';
import type { AgentDefinition } from '../../functions/orchestrator/schemas/agent.ts';

/** A full agent definition (schema defaults applied) from the fields a test cares about. */
export function agentDefinition(
  fields: Partial<AgentDefinition> & Pick<AgentDefinition, 'agent_id' | 'model_ref'>,
): AgentDefinition {
  return AgentDefinitionSchema.parse({
    object: 'agent',
    version: 1,
    name: fields.agent_id,
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:00.000Z',
    ...fields,
  });
}

/**
 * An agent registry holding fixed definitions, every version of each, for engine and service tests
 * (one tenant's view: the tenant is not looked at); `remove` deletes an agent while its versions stay
 * readable, as the registry port promises.
 */
export function fixedAgents(...definitions: AgentDefinition[]): AgentRegistryPort & {
  add(definition: AgentDefinition): void;
  remove(agentId: string): void;
} {
  const versions = new Map<string, AgentDefinition[]>();
  const deleted = new Set<string>();
  const add = (definition: AgentDefinition) => {
    const list = versions.get(definition.agent_id) ?? [];
    versions.set(definition.agent_id, [...list.filter((d) => d.version !== definition.version), definition]);
    deleted.delete(definition.agent_id);
  };
  definitions.forEach(add);
  const unsupported = () => Promise.reject(new Error('not supported by fixedAgents'));
  return {
    add,
    remove: (agentId) => deleted.add(agentId),
    async get(_auth, agentId) {
      if (deleted.has(agentId)) return undefined;
      const list = versions.get(agentId) ?? [];
      const latest = list.reduce<AgentDefinition | undefined>(
        (best, d) => (best === undefined || d.version > best.version ? d : best),
        undefined,
      );
      return latest === undefined ? undefined : structuredClone(latest);
    },
    async getVersion(_auth, agentId, version) {
      const found = (versions.get(agentId) ?? []).find((d) => d.version === version);
      return found === undefined ? undefined : structuredClone(found);
    },
    list: unsupported,
    create: unsupported,
    update: unsupported,
    delete: unsupported,
  };
}
