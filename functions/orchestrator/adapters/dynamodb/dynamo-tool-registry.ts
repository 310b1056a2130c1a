import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import { ConflictError, NotFoundError } from '../../../shared/errors/agentos-error.ts';
import { batchGet, getItem, transactWrite } from '../../../shared/storage/dynamo-items.ts';
import { recordSortKey, storageKeys } from '../../../shared/storage/keys.ts';
import type { ToolPage, ToolRegistryPort } from '../../ports/tool-registry-port.ts';
import type { HttpTool, ToolSpec } from '../../schemas/tool.ts';
import type * as toolSpecChecks from '../../schemas/tool-spec-checks.ts';
import { pageOfIds } from '../id-page.ts';
import { toolFromStored, toolOf } from '../stored-tool.ts';
import { directoryDelete, directoryIds, directoryPut } from './dynamo-id-directory.ts';

let specChecks: Promise<typeof toolSpecChecks> | undefined;

/**
 * Checks a tool's spec, loading the checks on the first registration: their schema compiler (Ajv
 * on RE2) is a third of a function's bundle, and tools are registered rarely, so no function loads
 * it at init for them. A failed load is retried on the next registration.
 */
async function checkToolSpec(toolId: string, spec: ToolSpec): Promise<void> {
  specChecks ??= import('../../schemas/tool-spec-checks.ts').catch((error: unknown) => {
    specChecks = undefined;
    throw error;
  });
  (await specChecks).checkToolSpec(toolId, spec);
}

/** How often an update that lost a race to another writer is tried again before it answers 409. */
const maxWriteAttempts = 5;
const itemKind = 'http_tool';

/**
 * A tenant's HTTP tools under `tenant/{tenant_id}/tools/{tool_id}` (`sk = 0`), listed through the
 * tenant's tool directory (HLD §4.2, no secondary index). An update replaces the tool as version + 1,
 * conditional on the version it read. Items of older nodes under the same keys (built-in
 * registrations, whose ids are all reserved now) are not HTTP tools and read as absent.
 */
export class DynamoToolRegistry implements ToolRegistryPort {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly now: () => Date;

  constructor(db: DynamoDBDocumentClient, tableName: string, options: { now?: () => Date } = {}) {
    this.db = db;
    this.tableName = tableName;
    this.now = options.now ?? (() => new Date());
  }

  async get(auth: AuthContext, toolId: string): Promise<HttpTool | undefined> {
    const item = await getItem(
      this.db,
      this.tableName,
      { pk: storageKeys.tool(auth.tenant_id, toolId), sk: recordSortKey },
      true,
    );
    return item === undefined || item['kind'] !== itemKind ? undefined : toolFromStored(item, toolId);
  }

  async list(auth: AuthContext, page: { limit: number; cursor?: string }): Promise<ToolPage> {
    const all = await directoryIds(this.db, this.tableName, storageKeys.toolIndex(auth.tenant_id), 'tool_id');
    const { ids, nextCursor } = pageOfIds(all, page);
    if (ids.length === 0) return { tools: [], nextCursor };
    const items = await batchGet(
      this.db,
      this.tableName,
      ids.map((id) => ({ pk: storageKeys.tool(auth.tenant_id, id), sk: recordSortKey })),
    );
    const byId = new Map<string, HttpTool>();
    for (const item of items) {
      if (item['kind'] !== itemKind || typeof item['tool_id'] !== 'string') continue;
      byId.set(item['tool_id'], toolFromStored(item, item['tool_id']));
    }
    return { tools: ids.flatMap((id) => byId.get(id) ?? []), nextCursor };
  }

  async create(auth: AuthContext, toolId: string, spec: ToolSpec): Promise<HttpTool> {
    await checkToolSpec(toolId, spec);
    const at = this.now().toISOString();
    const tool = toolOf(toolId, spec, 1, at, at);
    const codes = await transactWrite(this.db, [
      {
        Put: {
          TableName: this.tableName,
          Item: this.item(auth, tool),
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      directoryPut(this.tableName, storageKeys.toolIndex(auth.tenant_id), toolId, 'tool_id'),
    ]);
    if (codes === undefined) return tool;
    if (codes[0] === 'ConditionalCheckFailed') throw new ConflictError(`Tool ${toolId} already exists`);
    if (codes[1] === 'ConditionalCheckFailed')
      throw new ConflictError(`Tool id ${toolId} cannot be used on this node; choose another`);
    throw new ConflictError(`Tool ${toolId} is being changed; retry`);
  }

  async update(auth: AuthContext, toolId: string, spec: ToolSpec): Promise<HttpTool> {
    await checkToolSpec(toolId, spec);
    for (let attempt = 1; ; attempt++) {
      const current = await this.get(auth, toolId);
      if (current === undefined) throw new NotFoundError(`Tool ${toolId} not found`);
      const tool = toolOf(toolId, spec, current.version + 1, current.created_at, this.now().toISOString());
      const codes = await transactWrite(this.db, [
        {
          Put: {
            TableName: this.tableName,
            Item: this.item(auth, tool),
            ConditionExpression: '#kind = :kind AND version = :v',
            ExpressionAttributeNames: { '#kind': 'kind' },
            ExpressionAttributeValues: { ':kind': itemKind, ':v': current.version },
          },
        },
        directoryPut(this.tableName, storageKeys.toolIndex(auth.tenant_id), toolId, 'tool_id'),
      ]);
      if (codes === undefined) return tool;
      if (attempt >= maxWriteAttempts)
        throw new ConflictError(`Tool ${toolId} was changed concurrently; read it and retry`);
    }
  }

  async delete(auth: AuthContext, toolId: string): Promise<void> {
    const codes = await transactWrite(this.db, [
      {
        Delete: {
          TableName: this.tableName,
          Key: { pk: storageKeys.tool(auth.tenant_id, toolId), sk: recordSortKey },
          ConditionExpression: '#kind = :kind',
          ExpressionAttributeNames: { '#kind': 'kind' },
          ExpressionAttributeValues: { ':kind': itemKind },
        },
      },
      directoryDelete(this.tableName, storageKeys.toolIndex(auth.tenant_id), toolId),
    ]);
    if (codes === undefined) return;
    if (codes[0] === 'ConditionalCheckFailed') throw new NotFoundError(`Tool ${toolId} not found`);
    throw new ConflictError(`Tool ${toolId} is being changed; retry`);
  }

  private item(auth: AuthContext, tool: HttpTool): Record<string, unknown> {
    return { pk: storageKeys.tool(auth.tenant_id, tool.tool_id), sk: recordSortKey, ...tool, kind: itemKind };
  }
}
