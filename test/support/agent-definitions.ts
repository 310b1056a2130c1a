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
