import { createStreamingApiHandler } from '../../shared/http/api-handler.ts';
import { composeModelPolicy } from '../composition/model-policy-root.ts';

const root = composeModelPolicy();

/**
 * Lambda entry: the Model Policy API (chat completions with SSE, models, native invoke, policy
 * check, usage, tenant policy administration) as one response-streaming function.
 */
export const handler = createStreamingApiHandler({
  routes: root.apiRoutes(),
  verifier: root.verifier(),
  telemetry: root.telemetry,
});
