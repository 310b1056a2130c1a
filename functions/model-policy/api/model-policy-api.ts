import { z } from 'zod';
import { healthRoute, readinessRoute } from '../../shared/http/health-route.ts';
import { defineRoute } from '../../shared/http/route-spec.ts';
import type { HeaderSpec, ResponseSpec } from '../../shared/http/route-spec.ts';
import { openAiErrorHeaders } from './openai-errors.ts';
import { scopes, TenantIdSchema } from '../../shared/auth/auth-context.ts';
import {
  ModelInvokeRequestSchema,
  ModelInvokeResponseSchema,
  RequestIdSchema,
} from '../../shared/contracts/model-invocation.ts';
import { ErrorEnvelopeSchema } from '../../shared/errors/error-envelope.ts';
import { TenantModelPolicyDocumentSchema } from '../schemas/admin.ts';
import {
  ChatCompletionChunkSchema,
  ChatCompletionRequestSchema,
  ChatCompletionSchema,
  ModelListSchema,
  ModelObjectSchema,
} from '../schemas/openai-chat.ts';
import {
  CreateResponseRequestSchema,
  ResponseObjectSchema,
  ResponseStreamEventSchema,
} from '../schemas/openai-responses.ts';
import { EmbeddingListSchema, EmbeddingRequestSchema } from '../schemas/openai-embeddings.ts';
import { ModelRequestAbortSchema } from '../schemas/request-abort.ts';
import { PolicyCheckRequestSchema, PolicyCheckResponseSchema } from '../schemas/policy-check.ts';
import { TenantModelPolicySchema } from '../schemas/tenant-policy.ts';
import { prepareDenyPatterns } from '../policy/deny-pattern.ts';
import { RunUsageReportSchema, UsageQuerySchema, UsageReportSchema } from '../schemas/usage.ts';

/**
 * The Model Policy's public API (HLD §2.1 Model API), each route declared once: the HTTP core
 * validates requests against these declarations, handlers (model-policy-handlers.ts) are bound to
 * them by operation id, and the OpenAPI document is generated from them.
 */

/** Largest accepted tenant policy document. */
export const maxPolicyBytes = 128 * 1024;

const ModelRefPathSchema = z.strictObject({
  model_ref: z
    .string()
    .min(1)
    .describe('A model (`openai/gpt-4o-mini`, with its slash sent as-is or as %2F) or a tier (`tier:fast`).'),
});

const TenantPathSchema = z.strictObject({
  tenant_id: TenantIdSchema.describe('The tenant whose policy this is.'),
});

const requestIdHeader: HeaderSpec = {
  name: 'X-Request-Id',
  required: false,
  description:
    'Names the call for deduplication and audit: a retry with the same id returns the first answer and is ' +
    'billed once. One is generated when absent.',
  schema: RequestIdSchema,
};

const requestIdEcho: HeaderSpec = {
  name: 'X-Request-Id',
  required: true,
  description: 'The request_id the call was metered under.',
};

/** What the OpenAI-compatible routes add to every answer, so a caller sees what the gateway did. */
const gatewayHeaders: HeaderSpec[] = [
  requestIdEcho,
  {
    name: 'x-agentos-route',
    required: true,
    description:
      'The route taken, as ModelRoute JSON: provider, model and every fallback hop with its reason.',
  },
  {
    name: 'x-agentos-policy',
    required: true,
    description: 'The policy decision as JSON: {"decision": allow | redact, "redactions": {kind: count}}.',
  },
  {
    name: 'x-agentos-cost-usd',
    required: false,
    description: 'The metered cost of a non-streamed call.',
  },
  {
    name: 'x-agentos-replayed',
    required: false,
    description: '`true` when the answer is the stored result of an earlier call with this X-Request-Id.',
    schema: z.literal('true'),
  },
];

/**
 * The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers) of the tenant's model call bucket
 * (HLD §10.2), sent on every accepted model call, streamed or not, and on a 429 of that bucket.
 */
const modelRateLimitHeaders: HeaderSpec[] = [
  {
    name: 'RateLimit-Limit',
    required: false,
    description: 'The tenant’s model calls at once (its `model_request_burst`).',
    schema: z.string().regex(/^\d+$/),
  },
  {
    name: 'RateLimit-Remaining',
    required: false,
    description: 'Model calls the tenant may still make at once after this one.',
    schema: z.string().regex(/^\d+$/),
  },
  {
    name: 'RateLimit-Reset',
    required: false,
    description: 'Seconds until the tenant’s model call bucket is full again.',
    schema: z.string().regex(/^\d+$/),
  },
];

/** What a 429 of a model call carries besides its envelope. */
const tooManyHeaders: HeaderSpec[] = [
  {
    name: 'Retry-After',
    required: false,
    description: 'Seconds to wait before retrying; sent with rate_limited.',
  },
  ...modelRateLimitHeaders,
];

const shouldRetryHeader: HeaderSpec = {
  name: 'x-should-retry',
  required: true,
  description: '`true` when retrying the same request may succeed (rate limits, unavailable backends).',
  schema: z.enum(['true', 'false']),
};

/** OpenAI clients retry by `x-should-retry`; the OpenAI-compatible routes set it on every error. */
function openAiError(description: string, headers: HeaderSpec[] = []): ResponseSpec {
  return { description, headers: [shouldRetryHeader, ...headers] };
}

const modelCallErrors = {
  400: 'invalid_request: an invalid field, an oversized body, or a request the model backend rejected.',
  403: 'forbidden: the tenant is not entitled to the model, or a deny rule matched (details name the rule).',
  404: 'not_found: no such model or tier for this tenant.',
  409: 'request_in_progress: a call with this request id is still running; retry later.',
  422: 'idempotency_key_reused: this request id was used with a different request.',
  429:
    'budget_exceeded: a budget cannot cover the call (not retryable); or rate_limited, `details.limit` naming ' +
    'the limit hit: `tenant_model_request_rate` (the tenant’s `model_requests_per_second` and ' +
    '`model_request_burst`, checked before anything else, replays included; the RateLimit-* headers describe ' +
    'the bucket, and nothing was called or metered) or `upstream_rate_limit` (every backend of the route is ' +
    'rate limited). Retry rate_limited after the `Retry-After` seconds.',
  503: 'dependency_unavailable: no backend could answer, or the budget ledger cannot be reached (the call is refused, never let through).',
};

/** The error responses of a model-calling route, each with `headers` and the 429's own. */
function modelCallResponses(headers: HeaderSpec[]): Record<string, ResponseSpec> {
  return Object.fromEntries(
    Object.entries(modelCallErrors).map(([status, description]) => [
      status,
      { description, headers: [...headers, ...(status === '429' ? tooManyHeaders : [])] },
    ]),
  );
}

/** Every operation of the Model Policy API, for the OpenAPI document. */

export const createChatCompletion = defineRoute({
  errorHeaders: openAiErrorHeaders,
  operationId: 'createChatCompletion',
  method: 'POST',
  path: '/v1/chat/completions',
  scope: scopes.modelsInvoke,
  tags: ['OpenAI-compatible'],
  summary: 'Chat completion, OpenAI-compatible (streaming or not)',
  description:
    'The official OpenAI clients work unchanged against this base URL. Policy (entitlements, max-tokens cap, ' +
    'redaction, deny rules) is applied and the worst-case cost is reserved against the budgets before any ' +
    'backend is called; the call is settled to its actual cost after.',
  request: { body: ChatCompletionRequestSchema, headers: [requestIdHeader] },
  responses: {
    200: {
      description: 'The completion, or with `stream: true` its chunks.',
      headers: [...gatewayHeaders, ...modelRateLimitHeaders],
      content: {
        'application/json': { schema: ChatCompletionSchema },
        'text/event-stream': {
          schema: z.union([ChatCompletionChunkSchema, ErrorEnvelopeSchema]),
          sse: {
            data:
              'One ChatCompletionChunk as JSON; the last chunk before [DONE] carries usage and no choices. A failure ' +
              'after the stream started arrives as one ErrorEnvelope, and the stream ends.',
            terminator: '[DONE]',
          },
        },
      },
    },
    ...modelCallResponses([shouldRetryHeader]),
  },
});

export const createResponse = defineRoute({
  errorHeaders: openAiErrorHeaders,
  operationId: 'createResponse',
  method: 'POST',
  path: '/v1/responses',
  scope: scopes.modelsInvoke,
  tags: ['OpenAI-compatible'],
  summary: 'Response, OpenAI Responses API (stateless; streaming or not)',
  description:
    'A translation over the chat completion call: the same policy, budgets, X-Request-Id deduplication and ' +
    'metering. Nothing is stored: `store: true`, `previous_response_id` and `item_reference` input items are ' +
    'refused with 400 invalid_request naming them, as are built-in tools (only function tools are served). ' +
    '`text.format` is enforced as `response_format` is on the chat route.',
  request: { body: CreateResponseRequestSchema, headers: [requestIdHeader] },
  responses: {
    200: {
      description: 'The response, or with `stream: true` its typed events.',
      headers: [...gatewayHeaders, ...modelRateLimitHeaders],
      content: {
        'application/json': { schema: ResponseObjectSchema },
        'text/event-stream': {
          schema: ResponseStreamEventSchema,
          sse: {
            event: 'The event’s `type`.',
            data:
              'One ResponseStreamEvent as JSON, its sequence_number one higher than the last. The stream ends ' +
              'with response.completed or response.incomplete; a failure after it started ends it with ' +
              'response.failed and an error event.',
          },
        },
      },
    },
    ...modelCallResponses([shouldRetryHeader]),
  },
});

export const createEmbedding = defineRoute({
  errorHeaders: openAiErrorHeaders,
  operationId: 'createEmbedding',
  method: 'POST',
  path: '/v1/embeddings',
  scope: scopes.modelsInvoke,
  tags: ['OpenAI-compatible'],
  summary: 'Embeddings, OpenAI-compatible',
  description:
    'The official OpenAI clients work unchanged against this base URL. The model must be an embedding model ' +
    '(a chat model answers 400 invalid_request, as an embedding model does on chat). Policy (entitlements, ' +
    'input redaction, deny rules), the tenant’s model call rate, request-id replay, and the budgets apply as ' +
    'for chat: the input tokens are reserved before any backend is called and settled after.',
  request: { body: EmbeddingRequestSchema, headers: [requestIdHeader] },
  responses: {
    200: {
      description: 'One vector per input, in input order.',
      headers: [...gatewayHeaders, ...modelRateLimitHeaders],
      content: { 'application/json': { schema: EmbeddingListSchema } },
    },
    ...modelCallResponses([shouldRetryHeader]),
    413: openAiError(
      'invalid_request: the body is too large, or the answer would hold more numbers than one call may ' +
        '(inputs × dimensions); send fewer inputs.',
    ),
  },
});

export const listModels = defineRoute({
  errorHeaders: openAiErrorHeaders,
  operationId: 'listModels',
  method: 'GET',
  path: '/v1/models',
  scope: scopes.modelsRead,
  tags: ['OpenAI-compatible'],
  summary: 'The models and tiers this tenant may call, in OpenAI’s list shape',
  responses: {
    200: {
      description: 'The entitled models and tiers.',
      content: { 'application/json': { schema: ModelListSchema } },
    },
    503: openAiError('dependency_unavailable: the tenant’s policy could not be read.'),
  },
});

export const getModel = defineRoute({
  errorHeaders: openAiErrorHeaders,
  operationId: 'getModel',
  method: 'GET',
  path: '/v1/models/{model_ref+}',
  scope: scopes.modelsRead,
  tags: ['OpenAI-compatible'],
  summary: 'One model or tier this tenant may call',
  request: { params: ModelRefPathSchema },
  responses: {
    200: { description: 'The model.', content: { 'application/json': { schema: ModelObjectSchema } } },
    404: openAiError('not_found: no such model, or the tenant is not entitled to it.'),
    503: openAiError('dependency_unavailable: the tenant’s policy could not be read.'),
  },
});

export const invokeModel = defineRoute({
  operationId: 'invokeModel',
  method: 'POST',
  path: '/v1/models/{model_ref+}:invoke',
  scope: scopes.modelsInvoke,
  tags: ['Native'],
  summary: 'Invoke a model: the native form the Orchestrator uses (HLD §6.1)',
  description:
    'The caller’s Auth Context travels in the bearer token. The answer carries the output, usage, the route ' +
    'taken with every fallback hop, the policy outcome and the correlation id. The same request_id is ' +
    'answered once and billed once.',
  request: {
    params: ModelRefPathSchema,
    body: ModelInvokeRequestSchema,
    headers: [{ ...requestIdHeader, description: 'When sent, it must equal the body’s request_id.' }],
  },
  responses: {
    200: {
      description: 'The model’s answer (replayed: true when it is the stored answer to this request_id).',
      headers: [requestIdEcho, ...modelRateLimitHeaders],
      content: { 'application/json': { schema: ModelInvokeResponseSchema } },
    },
    ...modelCallResponses([]),
  },
});

const RequestIdPathSchema = z.strictObject({
  request_id: RequestIdSchema.describe(
    'The request_id the call was made with (a `/` in it sent as-is or as %2F).',
  ),
});

export const abortModelRequest = defineRoute({
  operationId: 'abortModelRequest',
  method: 'POST',
  path: '/v1/models/requests/{request_id+}:abort',
  scope: scopes.modelsInvoke,
  tags: ['Native'],
  summary: 'Stop an in-flight model call and release its budget reservation (HLD §5.3)',
  description:
    'For a caller that stopped waiting (its run was canceled or stopped) on a call whose connection the ' +
    'platform cannot cut. The call of this request_id, made by the same principal of the same tenant, is ' +
    'asked to stop: within seconds its backend call is aborted and it is settled by the invocation that ' +
    'holds it, charged what was produced, the rest of its reservation released.',
  request: { params: RequestIdPathSchema, invalidParams: 'not_found' },
  responses: {
    202: {
      description: 'A live call was asked to stop.',
      content: { 'application/json': { schema: ModelRequestAbortSchema } },
    },
    404: { description: 'not_found: no call of this request_id is in flight for the caller.' },
    503: { description: 'dependency_unavailable: the budget ledger could not be reached.' },
  },
});

export const checkPolicy = defineRoute({
  operationId: 'checkPolicy',
  method: 'POST',
  path: '/v1/policy/check',
  scope: scopes.policyCheck,
  tags: ['Native'],
  summary: 'Evaluate a call against policy and budgets without calling a model',
  description: 'Nothing is reserved or billed. A denial is an answer (allowed: false), not an error.',
  request: { body: PolicyCheckRequestSchema },
  responses: {
    200: {
      description: 'The evaluation.',
      content: { 'application/json': { schema: PolicyCheckResponseSchema } },
    },
    400: { description: 'invalid_request: an invalid field or an oversized body.' },
    503: {
      description: 'dependency_unavailable: the tenant’s policy or the budget ledger could not be read.',
    },
  },
});

export const getUsage = defineRoute({
  operationId: 'getUsage',
  method: 'GET',
  path: '/v1/usage',
  scope: scopes.usageRead,
  tags: ['Usage'],
  summary: 'The tenant’s metered usage, by window or by run',
  description:
    '`?window=day|month&date=…[&principal=…]` gives a window’s totals, per principal, with the current budgets; ' +
    '`?run_id=…` gives one run’s totals. With `usage:read` alone a window shows only the caller’s own usage ' +
    '(as if `principal` named the caller) and a run only the caller’s own calls of it (zero totals, as for an ' +
    'unknown run, when it made none); `usage:read:all` opens every principal’s usage of the tenant.',
  request: { query: UsageQuerySchema },
  responses: {
    200: {
      description: 'A UsageReport (object: usage), or with run_id a RunUsageReport (object: usage.run).',
      content: {
        'application/json': {
          schema: z.discriminatedUnion('object', [UsageReportSchema, RunUsageReportSchema]),
        },
      },
    },
    400: { description: 'invalid_request: an invalid query parameter.' },
    403: {
      description: 'forbidden: `principal` names another principal and the caller lacks `usage:read:all`.',
    },
    503: { description: 'dependency_unavailable: usage records could not be read.' },
  },
});

export const getTenantModelPolicy = defineRoute({
  operationId: 'getTenantModelPolicy',
  method: 'GET',
  path: '/v1/admin/tenants/{tenant_id}/model-policy',
  scope: scopes.operator,
  tags: ['Administration'],
  summary: 'A tenant’s model policy (operators)',
  description: 'A tenant without a policy of its own reads as the node default (source: default).',
  request: { params: TenantPathSchema },
  responses: {
    200: {
      description: 'The policy in force.',
      content: { 'application/json': { schema: TenantModelPolicyDocumentSchema } },
    },
    400: { description: 'invalid_request: the tenant id is malformed.' },
    503: { description: 'dependency_unavailable: the policy store could not be reached.' },
  },
});

export const putTenantModelPolicy = defineRoute({
  operationId: 'putTenantModelPolicy',
  method: 'PUT',
  path: '/v1/admin/tenants/{tenant_id}/model-policy',
  scope: scopes.operator,
  tags: ['Administration'],
  summary: 'Set a tenant’s entitlements, max-tokens cap, redaction, deny rules and budgets (operators)',
  description:
    'Replaces the whole policy. Budgets are never unlimited: a tenant-scope budget needs both limit_usd and ' +
    'limit_tokens.',
  request: {
    params: TenantPathSchema,
    body: TenantModelPolicySchema,
    maxBodyBytes: maxPolicyBytes,
    // Content patterns are validated by RE2, which loads with the first policy that holds one.
    prepareBody: prepareDenyPatterns,
  },
  responses: {
    200: {
      description: 'The stored policy, with its new version.',
      content: { 'application/json': { schema: TenantModelPolicyDocumentSchema } },
    },
    400: { description: 'invalid_request: an invalid field or tenant id, or an oversized body.' },
    503: { description: 'dependency_unavailable: the policy store could not be reached.' },
  },
});

/** Every route of the Model Policy API, in document order. */
export const modelPolicyRoutes = [
  healthRoute,
  readinessRoute,
  createChatCompletion,
  createResponse,
  createEmbedding,
  listModels,
  getModel,
  invokeModel,
  abortModelRequest,
  checkPolicy,
  getUsage,
  getTenantModelPolicy,
  putTenantModelPolicy,
] as const;
