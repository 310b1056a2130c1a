import type { BuiltinTool, BuiltinToolId } from '../schemas/tool.ts';

/**
 * How `GET /v1/tools` describes the built-in tools (HLD §3.1 ToolPort): every tenant's agents may
 * name them in `tool_ids`; they cannot be changed or deleted. The runtime's implementations take
 * the same arguments.
 */

const described: Record<BuiltinToolId, { description: string; parameters: Record<string, unknown> }> = {
  echo: {
    description: 'Returns the given text unchanged.',
    parameters: {
      type: 'object',
      properties: { text: { type: 'string' } },
      required: ['text'],
      additionalProperties: false,
    },
  },
  word_count: {
    description: 'Counts the words in the given text.',
    parameters: {
      type: 'object',
      properties: { text: { type: 'string' } },
      required: ['text'],
      additionalProperties: false,
    },
  },
  memory_get: {
    description: "Returns the value stored under a key in the agent's memory namespace, or an empty result.",
    parameters: {
      type: 'object',
      properties: { key: { type: 'string', minLength: 1, maxLength: 256 } },
      required: ['key'],
      additionalProperties: false,
    },
  },
  memory_put: {
    description: "Stores a value under a key in the agent's memory namespace (replacing what was there).",
    parameters: {
      type: 'object',
      properties: { key: { type: 'string', minLength: 1, maxLength: 256 }, value: { type: 'string' } },
      required: ['key', 'value'],
      additionalProperties: false,
    },
  },
  memory_search: {
    description: "Searches the agent's memory namespace; returns the best-matching entries, best first.",
    parameters: {
      type: 'object',
      properties: {
        query: { type: 'string', minLength: 1 },
        limit: { type: 'integer', minimum: 1, maximum: 50 },
      },
      required: ['query'],
      additionalProperties: false,
    },
  },
  http_fetch: {
    description:
      'Fetches a public http(s) URL and returns the status and body (size and time limited; private and ' +
      'internal addresses are refused).',
    parameters: {
      type: 'object',
      properties: {
        url: { type: 'string', format: 'uri' },
        method: { enum: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] },
        headers: { type: 'object', additionalProperties: { type: 'string' } },
        body: { type: 'string' },
      },
      required: ['url'],
      additionalProperties: false,
    },
  },
  wait: {
    description:
      'Pauses the run before its next step (long-mode agents only; other runs get a not_allowed error).',
    parameters: {
      type: 'object',
      properties: {
        seconds: { type: 'integer', minimum: 1, maximum: 86_400 },
        reason: { type: 'string', maxLength: 1024 },
      },
      required: ['seconds'],
      additionalProperties: false,
    },
  },
};

/** The built-in tools, in the order `GET /v1/tools` lists them. */
export const builtinToolCatalog: readonly BuiltinTool[] = Object.entries(described).map(
  ([toolId, { description, parameters }]) => ({
    object: 'tool',
    kind: 'builtin',
    tool_id: toolId,
    description,
    parameters,
  }),
);

/** The built-in tool of this id, copied (callers may change it), or undefined. */
export function builtinTool(toolId: string): BuiltinTool | undefined {
  const found = builtinToolCatalog.find((tool) => tool.tool_id === toolId);
  return found === undefined ? undefined : structuredClone(found);
}
