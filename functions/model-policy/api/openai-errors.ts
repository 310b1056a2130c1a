import { RequestIdSchema } from '../../shared/contracts/model-invocation.ts';
import { toErrorEnvelope } from '../../shared/errors/error-envelope.ts';
import type { ApiRequest, ApiResponse, Route } from '../../shared/http/api-types.ts';
import type { GatewayLog } from '../invocation/model-call.ts';

/** Errors a client may sensibly retry as they are (OpenAI clients honour `x-should-retry`). */
const retryableCodes = new Set(['rate_limited', 'dependency_unavailable', 'request_in_progress', 'internal']);

/**
 * Answers a route's failures with the error envelope plus the headers OpenAI clients act on: the
 * request id, and `x-should-retry`, so a client does not retry what cannot succeed (an exhausted
 * budget, a denied model) and does retry what may.
 */
export function withOpenAiErrorHeaders(route: Route, log: GatewayLog): Route {
  return {
    ...route,
    async handle(request: ApiRequest): Promise<ApiResponse> {
      try {
        return await route.handle(request);
      } catch (error) {
        const { status, envelope } = toErrorEnvelope(error, request.correlationId);
        const attributes = { error_code: envelope.error.code, status };
        if (status >= 500) log.error('model call failed', { ...attributes, error });
        else log.info('model call refused', attributes);
        const offered = request.headers['x-request-id'];
        const requestId =
          offered !== undefined && RequestIdSchema.safeParse(offered).success ? offered : undefined;
        return {
          status,
          headers: {
            'x-should-retry': retryableCodes.has(envelope.error.code) ? 'true' : 'false',
            ...(requestId === undefined ? {} : { 'x-request-id': requestId }),
          },
          json: envelope,
        };
      }
    },
  };
}
