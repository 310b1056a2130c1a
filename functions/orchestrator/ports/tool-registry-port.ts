import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { HttpTool, ToolSpec } from '../schemas/tool.ts';

/** A page of a tenant's HTTP tools, ordered by tool id. */
export type ToolPage = { tools: HttpTool[]; nextCursor: string | null };

/** The HTTP tools a tenant declared (HLD §3.1 ToolPort's registry); built-ins are not stored here. */
export interface ToolRegistryPort {
  get(auth: AuthContext, toolId: string): Promise<HttpTool | undefined>;
  list(auth: AuthContext, page: { limit: number; cursor?: string }): Promise<ToolPage>;
  /** ConflictError when the id is taken. */
  create(auth: AuthContext, toolId: string, spec: ToolSpec): Promise<HttpTool>;
  /** Replaces the tool (version + 1); NotFoundError when absent. */
  update(auth: AuthContext, toolId: string, spec: ToolSpec): Promise<HttpTool>;
  /** NotFoundError when absent. */
  delete(auth: AuthContext, toolId: string): Promise<void>;
}
