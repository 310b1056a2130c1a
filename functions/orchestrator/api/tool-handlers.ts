import type { RouteHandlers } from '../../shared/http/bound-route.ts';
import { ConflictError, NotFoundError } from '../../shared/errors/agentos-error.ts';
import type { ToolRegistryPort } from '../ports/tool-registry-port.ts';
import type { Tool } from '../schemas/tool.ts';
import { decodeIdCursor, encodeIdCursor } from '../adapters/id-page.ts';
import { defaultListLimit } from './agent-handlers.ts';
import { builtinTool, builtinToolCatalog } from './builtin-tool-catalog.ts';
import type { toolRoutes } from './tool-api.ts';

/** What the tools API is built on. */
export type ToolHandlerDeps = { tools: ToolRegistryPort };

function readOnly(toolId: string): ConflictError {
  return new ConflictError(`${toolId} is a built-in tool: built-in tools cannot be changed or deleted`);
}

/**
 * The handlers of the tools API (tool-api.ts). Lists run through the built-ins first, then the
 * tenant's tools; a cursor is the last tool id returned (built-in ids are reserved, so it says which
 * part it is in).
 */
export function toolHandlers({ tools }: ToolHandlerDeps): RouteHandlers<typeof toolRoutes> {
  return {
    async createTool({ auth, body }) {
      const { tool_id: toolId, ...spec } = body;
      const tool = await tools.create(auth, toolId, spec);
      return { status: 201, headers: { location: `/v1/tools/${tool.tool_id}` }, json: tool };
    },

    async listTools({ auth, query }) {
      const limit = query.limit ?? defaultListLimit;
      const after = query.cursor === undefined ? undefined : decodeIdCursor(query.cursor);
      const afterBuiltin = builtinToolCatalog.findIndex((tool) => tool.tool_id === after);
      const start =
        after === undefined ? 0 : afterBuiltin === -1 ? builtinToolCatalog.length : afterBuiltin + 1;
      const data: Tool[] = builtinToolCatalog
        .slice(start, start + limit)
        .map((tool) => structuredClone(tool));
      const room = limit - data.length;
      if (room > 0) {
        const page = await tools.list(auth, {
          limit: room,
          ...(query.cursor !== undefined && afterBuiltin === -1 ? { cursor: query.cursor } : {}),
        });
        data.push(...page.tools);
        return { status: 200, json: { object: 'list', data, next_cursor: page.nextCursor } };
      }
      const more =
        start + limit < builtinToolCatalog.length || (await tools.list(auth, { limit: 1 })).tools.length > 0;
      const last = data.at(-1);
      return {
        status: 200,
        json: {
          object: 'list',
          data,
          next_cursor: more && last !== undefined ? encodeIdCursor(last.tool_id) : null,
        },
      };
    },

    async getTool({ auth, params }) {
      const tool = builtinTool(params.tool_id) ?? (await tools.get(auth, params.tool_id));
      if (tool === undefined) throw new NotFoundError(`Tool ${params.tool_id} not found`);
      return { status: 200, json: tool };
    },

    async updateTool({ auth, params, body }) {
      if (builtinTool(params.tool_id) !== undefined) throw readOnly(params.tool_id);
      return { status: 200, json: await tools.update(auth, params.tool_id, body) };
    },

    async deleteTool({ auth, params }) {
      if (builtinTool(params.tool_id) !== undefined) throw readOnly(params.tool_id);
      await tools.delete(auth, params.tool_id);
      return { status: 204, json: undefined };
    },
  };
}
