import { NotFoundError } from '../../shared/errors/agentos-error.ts';
import type { RouteHandler } from '../../shared/http/bound-route.ts';
import type { ModelGateway } from '../invocation/model-gateway.ts';
import type { ModelRequestAbort } from '../schemas/request-abort.ts';
import type { abortModelRequest } from './model-policy-api.ts';

/**
 * `POST /v1/models/requests/{request_id}:abort` (scope `models:invoke`): asks the caller's own
 * in-flight call to stop, so its reservation is released within seconds rather than at its deadline
 * (HLD §5.3). Another tenant's (or principal's), a finished or an unknown request id are all the same
 * 404, so nothing is learnt of calls that are not the caller's.
 */
export function abortRequestHandler(gateway: ModelGateway): RouteHandler<typeof abortModelRequest> {
  return async ({ auth, params }) => {
    if (!(await gateway.requestAbort(auth, params.request_id))) {
      throw new NotFoundError('No model call with this request_id is in flight');
    }
    const json: ModelRequestAbort = {
      object: 'model.request.abort',
      request_id: params.request_id,
      abort_requested: true,
    };
    return { status: 202, json };
  };
}
