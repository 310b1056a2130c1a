import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { ModelInvokeRequest, ModelInvokeResponse } from '../../shared/contracts/model-invocation.ts';

/** Reaches models, always through the Model Policy (HLD §6.1). */
export interface ModelPort {
  invoke(auth: AuthContext, modelRef: string, request: ModelInvokeRequest): Promise<ModelInvokeResponse>;
}
