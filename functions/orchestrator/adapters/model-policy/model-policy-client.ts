import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import { scopes } from '../../../shared/auth/auth-context.ts';
import type { TokenIssuer } from '../../../shared/auth/token-issuer.ts';
import { ModelInvokeResponseSchema } from '../../../shared/contracts/model-invocation.ts';
import type { ModelInvokeRequest, ModelInvokeResponse } from '../../../shared/contracts/model-invocation.ts';
import { DependencyUnavailableError, InternalError } from '../../../shared/errors/agentos-error.ts';
import { errorFromResponse } from '../../../shared/errors/error-from-envelope.ts';
import type { ModelPort } from '../../ports/model-port.ts';
import { withTraceparent } from '../../../shared/observability/trace-context.ts';

/** Asking a call to stop is one conditional write: it needs no more than this. */
const abortTimeoutMs = 10_000;

/** Settings of the Model Policy client. */
export type ModelPolicyClientOptions = {
  baseUrl: string;
  issuer: TokenIssuer;
  /** Upper bound on one invocation, fallbacks included. */
  timeoutMs: number;
  /** Name of the calling service, recorded as the token's actor. */
  actor: string;
};

/**
 * ModelPort over the Model Policy's HTTP API. It calls on the principal's behalf with a short-lived
 * token that carries the same tenant, principal and policy context, and the actor's name.
 */
export class ModelPolicyClient implements ModelPort {
  private readonly options: ModelPolicyClientOptions;

  constructor(options: ModelPolicyClientOptions) {
    this.options = options;
  }

  /**
   * `POST /v1/models/requests/{request_id}:abort` (HLD §5.3): a 202 (the call was asked to stop) and a
   * 404 (it finished, or never started) both mean nothing more is held for it.
   */
  async abort(auth: AuthContext, requestId: string): Promise<void> {
    const token = await this.#token(auth);
    const url = `${this.options.baseUrl.replace(/\/$/, '')}/v1/models/requests/${encodeURIComponent(requestId)}:abort`;
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(Math.min(this.options.timeoutMs, abortTimeoutMs)),
      });
    } catch (cause) {
      throw new DependencyUnavailableError('The Model Policy could not be reached', { cause });
    }
    if (response.status === 202 || response.status === 404) {
      await response.body?.cancel();
      return;
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch (cause) {
      throw new DependencyUnavailableError(`The Model Policy answered ${response.status} without JSON`, {
        cause,
      });
    }
    throw errorFromResponse(response.status, body, 'Model Policy');
  }

  #token(auth: AuthContext): Promise<string> {
    return this.options.issuer.issue({
      tenantId: auth.tenant_id,
      subject: auth.principal.id,
      scopes: [scopes.modelsInvoke],
      actor: this.options.actor,
      policyContext: auth.policy_context,
      ttlSeconds: 300,
    });
  }

  async invoke(
    auth: AuthContext,
    modelRef: string,
    request: ModelInvokeRequest,
    options: { signal?: AbortSignal } = {},
  ): Promise<ModelInvokeResponse> {
    const token = await this.#token(auth);
    const url = `${this.options.baseUrl.replace(/\/$/, '')}/v1/models/${encodeURIComponent(modelRef)}:invoke`;
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: withTraceparent({
          'content-type': 'application/json',
          authorization: `Bearer ${token}`,
          'x-request-id': request.request_id,
        }),
        body: JSON.stringify(request),
        // The caller's signal (its run ended) or the timeout, whichever comes first.
        signal:
          options.signal === undefined
            ? AbortSignal.timeout(this.options.timeoutMs)
            : AbortSignal.any([options.signal, AbortSignal.timeout(this.options.timeoutMs)]),
      });
    } catch (cause) {
      throw new DependencyUnavailableError('The Model Policy could not be reached', { cause });
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch (cause) {
      throw new DependencyUnavailableError(`The Model Policy answered ${response.status} without JSON`, {
        cause,
      });
    }
    if (!response.ok) throw errorFromResponse(response.status, body, 'Model Policy');
    const parsed = ModelInvokeResponseSchema.safeParse(body);
    if (!parsed.success)
      throw new InternalError('The Model Policy answered with an unexpected shape', { cause: parsed.error });
    return parsed.data;
  }
}
