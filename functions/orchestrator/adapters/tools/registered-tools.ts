import { BatchGetCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import type { ToolDefinition } from '../../../shared/contracts/chat.ts';
import { storageUnavailable } from '../../../shared/storage/dynamo-errors.ts';
import { recordSortKey, storageKeys } from '../../../shared/storage/keys.ts';
import type { MemoryPort } from '../../ports/memory-port.ts';
import type { ToolInvocation, ToolPort, ToolResult } from '../../ports/tool-port.ts';
import { builtinTools } from './builtin-tools.ts';
import type { BuiltinToolContext } from './builtin-tools.ts';

/** A tool registered for a tenant (`tenant/{tenant_id}/tools/{tool_id}`); the id is the function name models call. */
export const ToolRecordSchema = z.object({
  tool_id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  description: z.string(),
  implementation: z.string().regex(/^builtin:[a-z_]+$/),
});

export type ToolRecord = z.infer<typeof ToolRecordSchema>;

/**
 * ToolPort for tools registered per tenant and implemented as built-ins. Only registered tools are
 * described to the model or run, which makes the registry the tenant's tool allow-list.
 */
export class RegisteredToolAdapter implements ToolPort {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly memory: MemoryPort;

  constructor(db: DynamoDBDocumentClient, tableName: string, memory: MemoryPort) {
    this.db = db;
    this.tableName = tableName;
    this.memory = memory;
  }

  /** Registers (or replaces) a tool for the caller's tenant. */
  async register(auth: AuthContext, tool: ToolRecord): Promise<void> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: storageKeys.tool(auth.tenant_id, tool.tool_id),
            sk: recordSortKey,
            kind: 'tool',
            ...tool,
          },
        }),
      );
    } catch (error) {
      throw storageUnavailable(error);
    }
  }

  async describe(auth: AuthContext, toolIds: readonly string[]): Promise<ToolDefinition[]> {
    if (toolIds.length === 0) return [];
    let items: Record<string, unknown>[];
    try {
      const result = await this.db.send(
        new BatchGetCommand({
          RequestItems: {
            [this.tableName]: {
              Keys: [...new Set(toolIds)].map((id) => ({
                pk: storageKeys.tool(auth.tenant_id, id),
                sk: recordSortKey,
              })),
            },
          },
        }),
      );
      items = result.Responses?.[this.tableName] ?? [];
    } catch (error) {
      throw storageUnavailable(error);
    }
    return items
      .map((item) => ToolRecordSchema.safeParse(item))
      .filter((parsed) => parsed.success)
      .map(({ data }) => describeTool(data))
      .sort((a, b) => toolIds.indexOf(a.function.name) - toolIds.indexOf(b.function.name));
  }

  async invoke(auth: AuthContext, call: ToolInvocation): Promise<ToolResult> {
    if (!isToolName(call.name)) return unavailable(call.name);
    let record: ToolRecord | undefined;
    try {
      const result = await this.db.send(
        new GetCommand({
          TableName: this.tableName,
          Key: { pk: storageKeys.tool(auth.tenant_id, call.name), sk: recordSortKey },
        }),
      );
      const parsed = ToolRecordSchema.safeParse(result.Item);
      record = parsed.success ? parsed.data : undefined;
    } catch (error) {
      throw storageUnavailable(error);
    }
    return runTool(record, call, { auth, memory: this.memory, runId: call.runId });
  }
}

/** A model may name anything; a name that cannot be a tool id is simply not an available tool. */
export function isToolName(name: string): boolean {
  return ToolRecordSchema.shape.tool_id.safeParse(name).success;
}

function unavailable(name: string): ToolResult {
  return { output: `Tool "${name.slice(0, 64)}" is not available`, isError: true };
}

/** How a registered tool is described to the model. */
export function describeTool(record: ToolRecord): ToolDefinition {
  const builtin = builtinTools[record.implementation.slice('builtin:'.length)];
  return {
    type: 'function',
    function: {
      name: record.tool_id,
      description: record.description,
      ...(builtin ? { parameters: builtin.parameters } : {}),
    },
  };
}

/**
 * Runs a registered tool's implementation (every ToolPort adapter shares it): unknown tools, bad
 * JSON, invalid arguments and failures come back as error results the model can react to.
 */
export async function runTool(
  record: ToolRecord | undefined,
  call: ToolInvocation,
  context: BuiltinToolContext,
): Promise<ToolResult> {
  const builtin =
    record === undefined ? undefined : builtinTools[record.implementation.slice('builtin:'.length)];
  if (builtin === undefined) return unavailable(call.name);
  let args: unknown;
  try {
    args = JSON.parse(call.arguments === '' ? '{}' : call.arguments);
  } catch {
    return { output: 'Tool arguments are not valid JSON', isError: true };
  }
  try {
    return { output: await builtin.run(args, context), isError: false };
  } catch (error) {
    const message =
      error instanceof z.ZodError
        ? `Invalid arguments: ${error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`
        : 'Tool failed';
    return { output: message, isError: true };
  }
}
