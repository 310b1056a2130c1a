import { z } from 'zod';
import { scopes } from '../../shared/auth/auth-context.ts';
import { defineRoute } from '../../shared/http/route-spec.ts';
import {
  CreateToolRequestSchema,
  HttpToolSchema,
  ToolIdSchema,
  ToolSchema,
  ToolSpecSchema,
} from '../schemas/tool.ts';
import { ListQuerySchema } from './agent-api.ts';

/**
 * The tools API (HLD §3.1 ToolPort, §10.1): the built-in tools every node ships (read-only) and the
 * HTTP tools a tenant declares. Declared once; handlers in tool-handlers.ts.
 */

export const ToolListSchema = z
  .strictObject({
    object: z.literal('list'),
    data: z.array(ToolSchema).describe('The built-in tools first, then the tenant’s HTTP tools by tool id.'),
    next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last one.'),
  })
  .meta({ id: 'ToolList' });

const ToolPathSchema = z.strictObject({
  tool_id: ToolIdSchema.describe('The tool id; a malformed id is answered like an unknown tool (404).'),
});

const toolErrors = {
  404: { description: 'not_found: no such tool for this tenant (another tenant’s tool is never revealed).' },
  503: { description: 'dependency_unavailable: tool storage could not be reached; retry.' },
};

const invalidTool = {
  description:
    'invalid_request: malformed JSON or an invalid field, named in `details.fields`: a reserved `tool_id`, ' +
    '`parameters` that are not a JSON Schema of an object (at most 32 KiB and 32 levels, and it must compile), ' +
    'an `http.url` that is not http(s) or uses a placeholder that is not a parameter, or a forbidden header.',
};

const builtinReadOnly = { description: 'conflict: built-in tools cannot be changed or deleted.' };

export const createTool = defineRoute({
  operationId: 'createTool',
  method: 'POST',
  path: '/v1/tools',
  scope: scopes.toolsWrite,
  tags: ['Tools'],
  summary: 'Declare an HTTP tool',
  description:
    'Agents of the tenant may then name it in `tool_ids`. Calls are checked against `parameters` before they are ' +
    'made; the request goes only to public addresses, with the call’s `Idempotency-Key`.',
  request: { body: CreateToolRequestSchema },
  responses: {
    201: {
      description: 'The tool was declared.',
      headers: [{ name: 'Location', required: true, description: 'The tool: /v1/tools/{tool_id}.' }],
      content: { 'application/json': { schema: HttpToolSchema } },
    },
    400: invalidTool,
    409: { description: 'conflict: a tool with this id exists.' },
    503: toolErrors[503],
  },
});

export const listTools = defineRoute({
  operationId: 'listTools',
  method: 'GET',
  path: '/v1/tools',
  scope: scopes.toolsRead,
  tags: ['Tools'],
  summary: 'List the tools the tenant’s agents may use',
  request: { query: ListQuerySchema },
  responses: {
    200: { description: 'A page of tools.', content: { 'application/json': { schema: ToolListSchema } } },
    400: { description: 'invalid_request: an invalid `limit` or `cursor`.' },
    503: toolErrors[503],
  },
});

export const getTool = defineRoute({
  operationId: 'getTool',
  method: 'GET',
  path: '/v1/tools/{tool_id}',
  scope: scopes.toolsRead,
  tags: ['Tools'],
  summary: 'Read a tool',
  request: { params: ToolPathSchema, invalidParams: 'not_found' },
  responses: {
    200: { description: 'The tool.', content: { 'application/json': { schema: ToolSchema } } },
    ...toolErrors,
  },
});

export const updateTool = defineRoute({
  operationId: 'updateTool',
  method: 'PUT',
  path: '/v1/tools/{tool_id}',
  scope: scopes.toolsWrite,
  tags: ['Tools'],
  summary: 'Replace an HTTP tool',
  description: 'Stores the body as the tool’s next version; steps that start afterwards use it.',
  request: { params: ToolPathSchema, invalidParams: 'not_found', body: ToolSpecSchema },
  responses: {
    200: { description: 'The new version.', content: { 'application/json': { schema: HttpToolSchema } } },
    400: invalidTool,
    409: builtinReadOnly,
    ...toolErrors,
  },
});

export const deleteTool = defineRoute({
  operationId: 'deleteTool',
  method: 'DELETE',
  path: '/v1/tools/{tool_id}',
  scope: scopes.toolsWrite,
  tags: ['Tools'],
  summary: 'Delete an HTTP tool',
  description: 'Agents that name it get a `not_found` tool error when they call it.',
  request: { params: ToolPathSchema, invalidParams: 'not_found' },
  responses: { 204: { description: 'The tool was deleted.' }, 409: builtinReadOnly, ...toolErrors },
});

/** The tools routes, in document order. */
export const toolRoutes = [createTool, listTools, getTool, updateTool, deleteTool] as const;
