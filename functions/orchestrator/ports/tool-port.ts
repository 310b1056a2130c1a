import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { ToolDefinition } from '../../shared/contracts/chat.ts';
import type { ToolError } from '../schemas/tool.ts';

/** One attempt of a tool call as the model asked for it. */
export type ToolInvocation = {
  toolCallId: string;
  name: string;
  arguments: string;
  runId: string;
  step: number;
  /** Stable for the call across attempts and redeliveries: `<run_id>/s<step>/c<index>`; HTTP tools send it as `Idempotency-Key`. */
  idempotencyKey: string;
  /** The attempt ends with a `timeout` error after this long. */
  timeoutMs: number;
  /** The memory namespace of the calling agent (memory built-ins). */
  memoryNamespace: string;
  /** Aborted when the step gives up (its own timeout, cancellation). */
  signal?: AbortSignal;
};

/**
 * The result handed back to the model; failures are results too, so the model can react. `error`
 * says why a call failed and whether trying again may help.
 */
export type ToolResult = {
  output: string;
  isError: boolean;
  error?: ToolError & { retryable: boolean };
  /**
   * The run pauses this long before its next step (the `wait` built-in). Only `long` runs can wait:
   * their Step Functions execution holds the pause, longer than any function can run (HLD §4.3).
   */
  suspendSeconds?: number;
};

/** Describes and invokes the tools a tenant may use (HLD §3.1 ToolPort). */
export interface ToolPort {
  /** Definitions of the given tools that exist for this tenant (built-ins included); unknown ids are left out. */
  describe(auth: AuthContext, toolIds: readonly string[]): Promise<ToolDefinition[]>;
  /** Never throws for a tool's own failure (that is an error result); throws only when storage is unreachable. */
  invoke(auth: AuthContext, call: ToolInvocation): Promise<ToolResult>;
}

/**
 * Whether trying a failed call again may help: timeouts, network errors, the tenant's tool-call
 * rate (HLD §5.2), and HTTP 429 and 5xx.
 */
export function isRetryableToolError(error: ToolError): boolean {
  if (error.code === 'timeout' || error.code === 'network_error' || error.code === 'rate_limited')
    return true;
  return (
    error.code === 'http_error' && error.status !== undefined && (error.status === 429 || error.status >= 500)
  );
}

/** The error result of a failed call: the model reads `output`; `error` says why and whether to retry. */
export function toolErrorResult(
  code: ToolError['code'],
  message: string,
  options: { status?: number; retryable?: boolean } = {},
): ToolResult {
  const error: ToolError = {
    code,
    message,
    ...(options.status === undefined ? {} : { status: options.status }),
  };
  return {
    output: `Tool error (${code}): ${message}`,
    isError: true,
    error: { ...error, retryable: options.retryable ?? isRetryableToolError(error) },
  };
}
