import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { ToolDefinition } from '../../shared/contracts/chat.ts';

/** A tool call as the model asked for it. */
export type ToolInvocation = { toolCallId: string; name: string; arguments: string; runId: string };

/** The result handed back to the model; failures are results too, so the model can react. */
export type ToolResult = { output: string; isError: boolean };

/** Describes and invokes the tools a tenant may use (HLD §3.1 ToolPort). */
export interface ToolPort {
  /** Definitions of the given tools that exist for this tenant; unknown ids are left out. */
  describe(auth: AuthContext, toolIds: readonly string[]): Promise<ToolDefinition[]>;
  invoke(auth: AuthContext, call: ToolInvocation): Promise<ToolResult>;
}
