import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { ModelInvokeRequest, ModelInvokeResponse } from '../../shared/contracts/model-invocation.ts';

/** Reaches models, always through the Model Policy (HLD §6.1). */
export interface ModelPort {
  /**
   * `signal` aborts the call: the caller stops waiting for it (its run was canceled or stopped,
   * HLD §5.2).
   */
  invoke(
    auth: AuthContext,
    modelRef: string,
    request: ModelInvokeRequest,
    options?: { signal?: AbortSignal },
  ): Promise<ModelInvokeResponse>;
  /**
   * Asks the Model Policy to stop the in-flight call of `requestId` (its run ended), so its budget
   * reservation is released within seconds by the invocation that holds it (HLD §5.3). Resolves
   * when the call was asked to stop or none was in flight; rejects when the Model Policy could not
   * be reached.
   */
  abort?(auth: AuthContext, requestId: string): Promise<void>;
}
