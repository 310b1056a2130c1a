import { InternalError } from '../../shared/errors/agentos-error.ts';
import type { AgentDefinition } from '../ports/agent-registry-port.ts';
import { AgentDefinitionSchema } from '../schemas/agent.ts';

/** Attributes of a stored agent item that belong to the storage layout, not to the definition. */
const layoutAttributes: readonly string[] = ['pk', 'sk', 'kind', 'latest_version', 'deleted'];

/** When an agent stored before versions existed was created: unknown, so the epoch. */
const unknownTime = new Date(0).toISOString();

/**
 * Reads a stored agent item back through the schema (so defaults apply). Agents seeded before
 * versions existed (HLD §3.1 AgentRegistry) carry `system_prompt` and no version: they read as
 * version 1 with `instructions`. A malformed item is an internal error, never a silent skip.
 */
export function agentFromStored(item: Record<string, unknown>, agentId: string): AgentDefinition {
  const fields: Record<string, unknown> = Object.fromEntries(
    Object.entries(item).filter(([attribute]) => !layoutAttributes.includes(attribute)),
  );
  if ('system_prompt' in fields) {
    if (fields['instructions'] === undefined) fields['instructions'] = fields['system_prompt'];
    delete fields['system_prompt'];
  }
  fields['object'] ??= 'agent';
  fields['version'] ??= 1;
  fields['created_at'] ??= unknownTime;
  fields['updated_at'] ??= fields['created_at'];
  const parsed = AgentDefinitionSchema.safeParse(fields);
  if (!parsed.success)
    throw new InternalError(`Stored agent ${agentId} is malformed`, { cause: parsed.error });
  return parsed.data;
}

/** Whether a stored head item predates versions (no `latest_version`): its version 1 was never stored apart. */
export function isLegacyHead(item: Record<string, unknown>): boolean {
  return item['latest_version'] === undefined;
}
