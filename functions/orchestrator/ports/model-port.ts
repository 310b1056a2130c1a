import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { ModelInvokeRequest, ModelInvokeResponse } from '../../shared/contracts/model-invocation.ts';

/** Reaches models, always through the Model Policy (HLD §6.1). */
export interface ModelPort {
  /**
   * `signal` aborts the call: the caller went away (its run was canceled or stopped), and the Model
   * Policy settles the call's budget reservation with what was used (HLD §5.2).
   */
  invoke(
    auth: AuthContext,
    modelRef: string,
    request: ModelInvokeRequest,
    options?: { signal?: AbortSignal },
  ): Promise<ModelInvokeResponse>;
}
