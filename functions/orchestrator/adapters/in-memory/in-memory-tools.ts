import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import type { ToolDefinition } from '../../../shared/contracts/chat.ts';
import { storageKeys } from '../../../shared/storage/keys.ts';
import type { MemoryPort } from '../../ports/memory-port.ts';
import type { ToolInvocation, ToolPort, ToolResult } from '../../ports/tool-port.ts';
import { describeTool, isToolName, runTool, ToolRecordSchema } from '../tools/registered-tools.ts';
import type { ToolRecord } from '../tools/registered-tools.ts';

/**
 * ToolPort held in one process's memory, for the unit tier and single-process use only (nothing is
 * shared between processes or survives a restart). Like RegisteredToolAdapter, tools are registered
 * per tenant, the registry is the tenant's allow-list, records are read back through the same
 * schema (a malformed one counts as absent), and calls run the same built-ins (builtin-tools.ts) with
 * the same error results. Records are copied in.
 */
export class InMemoryToolRegistry implements ToolPort {
  readonly #tools = new Map<string, unknown>();
  readonly #memory: MemoryPort;

  /** `memory` is what the `remember` and `recall` built-ins use. */
  constructor(memory: MemoryPort) {
    this.#memory = memory;
  }

  /** Registers (or replaces) a tool for the caller's tenant. */
  async register(auth: AuthContext, tool: ToolRecord): Promise<void> {
    this.#tools.set(storageKeys.tool(auth.tenant_id, tool.tool_id), structuredClone(tool));
  }

  async describe(auth: AuthContext, toolIds: readonly string[]): Promise<ToolDefinition[]> {
    return [...new Set(toolIds)]
      .map((id) => this.#record(auth, id))
      .filter((record): record is ToolRecord => record !== undefined)
      .map(describeTool);
  }

  async invoke(auth: AuthContext, call: ToolInvocation): Promise<ToolResult> {
    const record = isToolName(call.name) ? this.#record(auth, call.name) : undefined;
    return runTool(record, call, { auth, memory: this.#memory, runId: call.runId });
  }

  #record(auth: AuthContext, toolId: string): ToolRecord | undefined {
    const parsed = ToolRecordSchema.safeParse(this.#tools.get(storageKeys.tool(auth.tenant_id, toolId)));
    return parsed.success ? parsed.data : undefined;
  }
}
