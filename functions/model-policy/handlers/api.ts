import { createStreamingLambdaHandler } from '../../shared/http/lambda-adapter.ts';
import { prepareModelPolicyEnv } from '../composition/model-policy-config.ts';
import { composeModelPolicy } from '../composition/model-policy-root.ts';

await prepareModelPolicyEnv();
const root = composeModelPolicy();

/**
 * Lambda entry: the Model Policy API (chat completions with SSE, models, native invoke, policy
 * check, usage, tenant policy administration) as one response-streaming function.
 */
export const handler = createStreamingLambdaHandler(root.httpApp(), root.telemetry, {
  // Calls settle after their answer is delivered; the invocation ends once they have (HLD §5.3).
  afterResponse: () => root.settlements.drain(),
});
