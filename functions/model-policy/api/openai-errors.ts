import { RequestIdSchema } from '../../shared/contracts/model-invocation.ts';
import type { ErrorHeaders } from '../../shared/http/route-spec.ts';

/** Errors a client may sensibly retry as they are (OpenAI clients honour `x-should-retry`). */
const retryableCodes = new Set(['rate_limited', 'dependency_unavailable', 'request_in_progress', 'internal']);

/**
 * The headers OpenAI clients act on, added to every error of the OpenAI-compatible routes: the
 * request id when the caller sent a valid one, and `x-should-retry`, so a client does not retry what
 * cannot succeed (an exhausted budget, a denied model) and does retry what may.
 */
export const openAiErrorHeaders: ErrorHeaders = ({ code, requestHeaders }) => {
  const offered = requestHeaders['x-request-id'];
  const requestId = offered !== undefined && RequestIdSchema.safeParse(offered).success ? offered : undefined;
  return {
    'x-should-retry': retryableCodes.has(code) ? 'true' : 'false',
    ...(requestId === undefined ? {} : { 'x-request-id': requestId }),
  };
};
