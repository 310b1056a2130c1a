import { z } from 'zod';

/**
 * Tools an agent may call (HLD §3.1 ToolPort, §10.1): the built-ins every node ships and the HTTP
 * tools a tenant declares. A tool's id is the function name the model calls.
 */

export const ToolIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'tool ids are 1-64 characters of A-Z a-z 0-9 _ -');

/** The built-in tools; their ids are reserved, so no tenant tool can shadow one. */
export const builtinToolIds = [
  'echo',
  'word_count',
  'memory_get',
  'memory_put',
  'memory_search',
  'http_fetch',
  'wait',
] as const;
export type BuiltinToolId = (typeof builtinToolIds)[number];

/** Ids a tenant tool may not take: the built-ins and the names older nodes registered for them. */
export const reservedToolIds: readonly string[] = [...builtinToolIds, 'remember', 'recall'];

/** A JSON Schema (draft 2020-12 subset that Ajv compiles) describing a tool's arguments object. */
export const ToolParametersSchema = z
  .record(z.string(), z.unknown())
  .describe(
    'JSON Schema of the arguments object (type "object" at the root). At most 32 KiB and 32 levels deep; ' +
      'it must compile, or the tool is refused.',
  )
  .meta({ id: 'ToolParameters' });

export const HttpToolMethodSchema = z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

/** Where an HTTP tool's credential comes from: a secret of the tenant's own prefix in Secrets Manager. */
export const ToolCredentialsSchema = z
  .strictObject({
    secret: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,128}$/)
      .describe(
        'Name of the secret under the tenant’s tool-secret prefix (`agentos/<stage>/tools/<tenant_id>/<secret>`); ' +
          'a tool can never read another tenant’s secret.',
      ),
    header: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,64}$/)
      .default('Authorization')
      .describe('Request header that carries the secret.'),
    prefix: z.string().max(32).default('Bearer ').describe('Text put before the secret in that header.'),
  })
  .meta({ id: 'ToolCredentials' });

export const HttpToolRequestSchema = z
  .strictObject({
    method: HttpToolMethodSchema,
    url: z
      .string()
      .min(1)
      .max(2048)
      .describe(
        'http(s) URL; `{name}` placeholders are filled from the arguments of that name, percent-encoded. Arguments ' +
          'not used by the URL go in the query string (GET, DELETE) or as the JSON body (POST, PUT, PATCH).',
      ),
    headers: z
      .record(z.string().regex(/^[A-Za-z0-9-]{1,64}$/), z.string().max(1024))
      .refine((h) => Object.keys(h).length <= 32, 'at most 32 headers')
      .default({})
      .describe('Fixed request headers (never Host, Content-Length or the credentials header).'),
    credentials: ToolCredentialsSchema.optional(),
  })
  .meta({ id: 'HttpToolRequest' });

/** What a tenant sends to declare (or replace) an HTTP tool. */
export const ToolSpecSchema = z
  .strictObject({
    description: z.string().min(1).max(1024),
    parameters: ToolParametersSchema.default({ type: 'object', properties: {}, additionalProperties: false }),
    http: HttpToolRequestSchema,
    timeout_ms: z.number().int().min(100).max(60_000).default(10_000),
    max_response_bytes: z
      .number()
      .int()
      .min(1)
      .max(1024 * 1024)
      .default(64 * 1024),
  })
  .meta({ id: 'ToolSpec' });
export type ToolSpec = z.output<typeof ToolSpecSchema>;

export const CreateToolRequestSchema = ToolSpecSchema.extend({ tool_id: ToolIdSchema }).meta({
  id: 'CreateToolRequest',
});
export type CreateToolRequest = z.output<typeof CreateToolRequestSchema>;

/** A tenant's HTTP tool as stored and returned. */
export const HttpToolSchema = ToolSpecSchema.extend({
  object: z.literal('tool'),
  kind: z.literal('http'),
  tool_id: ToolIdSchema,
  version: z.number().int().min(1),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
}).meta({ id: 'HttpTool' });
export type HttpTool = z.output<typeof HttpToolSchema>;

/** A built-in tool as listed: available to every tenant's agents that name it. */
export const BuiltinToolSchema = z
  .strictObject({
    object: z.literal('tool'),
    kind: z.literal('builtin'),
    tool_id: ToolIdSchema,
    description: z.string(),
    parameters: ToolParametersSchema,
  })
  .meta({ id: 'BuiltinTool' });
export type BuiltinTool = z.output<typeof BuiltinToolSchema>;

export const ToolSchema = z
  .discriminatedUnion('kind', [BuiltinToolSchema, HttpToolSchema])
  .meta({ id: 'Tool' });
export type Tool = z.output<typeof ToolSchema>;

/** Why a tool call failed; `tool.completed` events and step records carry it. */
export const toolErrorCodes = [
  'timeout',
  'http_error',
  'network_error',
  'invalid_arguments',
  'not_allowed',
  'not_found',
  'blocked_destination',
  'response_too_large',
  'failed',
  /** The tenant's tool calls per minute are used up (HLD §5.2); retryable. */
  'rate_limited',
] as const;
export const ToolErrorCodeSchema = z.enum(toolErrorCodes).meta({ id: 'ToolErrorCode' });
export type ToolErrorCode = z.infer<typeof ToolErrorCodeSchema>;

export const ToolErrorSchema = z
  .strictObject({
    code: ToolErrorCodeSchema,
    message: z.string(),
    /** The upstream HTTP status, for `http_error`. */
    status: z.number().int().optional(),
  })
  .meta({ id: 'ToolError' });
export type ToolError = z.infer<typeof ToolErrorSchema>;
