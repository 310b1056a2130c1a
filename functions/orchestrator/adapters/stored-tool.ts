import { InternalError } from '../../shared/errors/agentos-error.ts';
import { HttpToolSchema } from '../schemas/tool.ts';
import type { HttpTool, ToolSpec } from '../schemas/tool.ts';

/** A tenant's HTTP tool as stored and returned. */
export function toolOf(
  toolId: string,
  spec: ToolSpec,
  version: number,
  createdAt: string,
  updatedAt: string,
): HttpTool {
  return {
    ...structuredClone(spec),
    object: 'tool',
    kind: 'http',
    tool_id: toolId,
    version,
    created_at: createdAt,
    updated_at: updatedAt,
  };
}

/** Reads a stored tool back through the schema; a malformed one is an internal error, never skipped. */
export function toolFromStored(item: Record<string, unknown>, toolId: string): HttpTool {
  const fields: Record<string, unknown> = { ...item, kind: 'http' };
  delete fields['pk'];
  delete fields['sk'];
  const parsed = HttpToolSchema.safeParse(fields);
  if (!parsed.success) throw new InternalError(`Stored tool ${toolId} is malformed`, { cause: parsed.error });
  return parsed.data;
}
