import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import type { ToolDefinition } from '../../../shared/contracts/chat.ts';
import type { MemoryPort } from '../../ports/memory-port.ts';
import type { ToolInvocation, ToolPort, ToolResult } from '../../ports/tool-port.ts';
import { describeTool, isToolName, runTool } from '../tools/registered-tools.ts';
import type { ToolRecord } from '../tools/registered-tools.ts';

/**
 * ToolPort held in this process, for the unit tier: tools registered per tenant, run by the same
 * built-in implementations (and the same error results) as the DynamoDB-backed registry.
 */
export class InMemoryToolRegistry implements ToolPort {
  readonly #tools = new Map<string, ToolRecord>();
  readonly #memory: MemoryPort;

  constructor(memory: MemoryPort) {
    this.#memory = memory;
  }

  /** Registers (or replaces) a tool for the caller's tenant. */
  async register(auth: AuthContext, tool: ToolRecord): Promise<void> {
    this.#tools.set(`${auth.tenant_id}/${tool.tool_id}`, { ...tool });
  }

  async describe(auth: AuthContext, toolIds: readonly string[]): Promise<ToolDefinition[]> {
    return [...new Set(toolIds)]
      .map((id) => this.#tools.get(`${auth.tenant_id}/${id}`))
      .filter((record): record is ToolRecord => record !== undefined)
      .map(describeTool);
  }

  async invoke(auth: AuthContext, call: ToolInvocation): Promise<ToolResult> {
    const record = isToolName(call.name) ? this.#tools.get(`${auth.tenant_id}/${call.name}`) : undefined;
    return runTool(record, call, { auth, memory: this.#memory, runId: call.runId });
  }
}
