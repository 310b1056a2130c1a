import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import { ConflictError, NotFoundError } from '../../../shared/errors/agentos-error.ts';
import { storageKeys } from '../../../shared/storage/keys.ts';
import type { ToolPage, ToolRegistryPort } from '../../ports/tool-registry-port.ts';
import type { HttpTool, ToolSpec } from '../../schemas/tool.ts';
import { checkToolSpec } from '../../schemas/tool-spec-checks.ts';
import { pageOfIds } from '../id-page.ts';
import { toolFromStored, toolOf } from '../stored-tool.ts';

/**
 * ToolRegistryPort held in one process's memory, for the unit tier and single-process use only.
 * Same rules as on DynamoDB: tenants apart by storage key, the same spec checks, version + 1 per
 * update, tools read back through the schema and copied in and out.
 */
export class InMemoryToolRegistry implements ToolRegistryPort {
  /** Per tenant (keyed by its tool directory's storage key), the tools by id. */
  readonly #tenants = new Map<string, Map<string, HttpTool>>();
  readonly #now: () => Date;

  constructor(options: { now?: () => Date } = {}) {
    this.#now = options.now ?? (() => new Date());
  }

  async get(auth: AuthContext, toolId: string): Promise<HttpTool | undefined> {
    const tool = this.#toolsOf(auth).get(toolId);
    return tool === undefined ? undefined : toolFromStored(structuredClone(tool), toolId);
  }

  async list(auth: AuthContext, page: { limit: number; cursor?: string }): Promise<ToolPage> {
    const tools = this.#toolsOf(auth);
    const { ids, nextCursor } = pageOfIds(tools.keys(), page);
    return { tools: ids.map((id) => toolFromStored(structuredClone(tools.get(id)!), id)), nextCursor };
  }

  async create(auth: AuthContext, toolId: string, spec: ToolSpec): Promise<HttpTool> {
    checkToolSpec(toolId, spec);
    storageKeys.tool(auth.tenant_id, toolId);
    const tools = this.#toolsOf(auth);
    if (tools.has(toolId)) throw new ConflictError(`Tool ${toolId} already exists`);
    const at = this.#now().toISOString();
    const tool = toolOf(toolId, spec, 1, at, at);
    tools.set(toolId, structuredClone(tool));
    return tool;
  }

  async update(auth: AuthContext, toolId: string, spec: ToolSpec): Promise<HttpTool> {
    checkToolSpec(toolId, spec);
    const tools = this.#toolsOf(auth);
    const current = tools.get(toolId);
    if (current === undefined) throw new NotFoundError(`Tool ${toolId} not found`);
    const tool = toolOf(toolId, spec, current.version + 1, current.created_at, this.#now().toISOString());
    tools.set(toolId, structuredClone(tool));
    return tool;
  }

  async delete(auth: AuthContext, toolId: string): Promise<void> {
    if (!this.#toolsOf(auth).delete(toolId)) throw new NotFoundError(`Tool ${toolId} not found`);
  }

  #toolsOf(auth: AuthContext): Map<string, HttpTool> {
    const key = storageKeys.toolIndex(auth.tenant_id);
    let tools = this.#tenants.get(key);
    if (tools === undefined) this.#tenants.set(key, (tools = new Map()));
    return tools;
  }
}
