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
}
