import { z } from 'zod';
import { healthRoute, readinessRoute } from '../../shared/http/health-route.ts';
import { jwksRoute } from '../../shared/http/jwks-route.ts';
import { defineRoute } from '../../shared/http/route-spec.ts';
import type { HeaderSpec } from '../../shared/http/route-spec.ts';
import { scopes } from '../../shared/auth/auth-context.ts';
import { memoryRoutes } from './memory-api.ts';
import { agentRoutes } from './agent-api.ts';
import { toolRoutes } from './tool-api.ts';
import { tenantAdminRoutes } from './tenant-admin-api.ts';
import { capacityRoutes } from './capacity-api.ts';
import { principalRoutes } from './principal-api.ts';
import { a2aRoutes } from './a2a-api.ts';
import { backgroundResponseRoutes } from './background-response-api.ts';
import { peerAdminRoutes } from '../federation/peer-admin-api.ts';
import {
  CreateRunRequestSchema,
  IdempotencyKeySchema,
  maxCreateRunBytes,
  RunListQuerySchema,
  RunPageSchema,
  RunSchema,
} from '../schemas/run.ts';
import { StepPageSchema, StepQuerySchema } from '../schemas/step.ts';
import { listRunEvents, RunPathSchema, runErrors } from './run-events-api.ts';

export { listRunEvents } from './run-events-api.ts';
export { maxCreateRunBytes } from '../schemas/run.ts';

/**
 * The Orchestrator's public API (HLD §2.1 product-facing API), each route declared once: the HTTP
 * core validates requests against these declarations, handlers (run-handlers.ts) are bound to them
 * by operation id, and the OpenAPI document is generated from them.
 */

const idempotencyKey: HeaderSpec = {
  name: 'Idempotency-Key',
  required: false,
  description:
    'Makes creation safe to retry: the same key, tenant, principal and agent with the same body returns the run ' +
    'created first (200, Idempotent-Replayed: true); with a different body the answer is 422 ' +
    'idempotency_key_reused. Keys are kept at least 24 hours.',
  schema: IdempotencyKeySchema,
};

const location: HeaderSpec = {
  name: 'Location',
  required: true,
  description: 'The run: /v1/runs/{run_id}.',
};

/**
 * The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers) of the tenant's run creation
 * bucket, sent on an accepted run creation and on a 429 of that bucket (HLD §10.2).
 */
export const runRateLimitHeaders: HeaderSpec[] = [
  {
    name: 'RateLimit-Limit',
    required: false,
    description:
      'The tenant’s run creations at once (its `run_burst`); sent when the node enforces tenant quotas.',
    schema: z.string().regex(/^\d+$/),
  },
  {
    name: 'RateLimit-Remaining',
    required: false,
    description: 'Run creations the tenant may still make at once after this one.',
    schema: z.string().regex(/^\d+$/),
  },
  {
    name: 'RateLimit-Reset',
    required: false,
    description: 'Seconds until the tenant’s run creation bucket is full again.',
    schema: z.string().regex(/^\d+$/),
  },
];

export const createRun = defineRoute({
  operationId: 'createRun',
  method: 'POST',
  path: '/v1/runs',
  scope: scopes.runsWrite,
  tags: ['Runs'],
  summary: 'Start a run of an agent',
  description:
    'Stores a queued run, appends run.queued and schedules its first step. Unknown fields, malformed JSON, ' +
    'JSON nested deeper than 64 levels and bodies over 128 KiB are rejected with 400 naming the field (a body ' +
    'that is not JSON with 415), and nothing is stored.',
  request: { body: CreateRunRequestSchema, maxBodyBytes: maxCreateRunBytes, headers: [idempotencyKey] },
  responses: {
    201: {
      description:
        'The run was created and queued. It starts when a run slot of its tenant (`max_concurrent_runs`) and of ' +
        'the node are free; until then its `status_reason` says what it waits for.',
      headers: [location, ...runRateLimitHeaders],
      content: { 'application/json': { schema: RunSchema } },
    },
    200: {
      description:
        'Replay: this Idempotency-Key already created a run with the same body; it is returned as it is now.',
      headers: [
        location,
        {
          name: 'Idempotent-Replayed',
          required: true,
          description: 'Always `true` on a replay.',
          schema: z.literal('true'),
        },
      ],
      content: { 'application/json': { schema: RunSchema } },
    },
    400: {
      description: 'invalid_request: malformed JSON, an unknown or invalid field, or an oversized body.',
    },
    404: { description: 'not_found: the agent does not exist for this tenant.' },
    422: { description: 'idempotency_key_reused: the Idempotency-Key was used with a different body.' },
    429: {
      description:
        'rate_limited: `details.limit` names the limit hit — `tenant_run_rate` (the tenant’s `runs_per_second` ' +
        'and `run_burst`; the RateLimit-* headers describe the bucket), `tenant_queued_runs` (as many runs wait ' +
        'as the tenant’s `max_queued_runs` allows beyond its free run slots) or `node_concurrent_runs` (the node ' +
        'is full and refuses new runs rather than queueing them). Retry after the `Retry-After` seconds; nothing ' +
        'was stored, and an idempotent replay is never refused.',
      headers: [
        { name: 'Retry-After', required: true, description: 'Seconds to wait before retrying.' },
        ...runRateLimitHeaders,
      ],
    },
    503: {
      description:
        'dependency_unavailable: storage or the step queue could not be reached; retry with the same Idempotency-Key.',
    },
  },
});

export const getRun = defineRoute({
  operationId: 'getRun',
  method: 'GET',
  path: '/v1/runs/{run_id}',
  scope: scopes.runsRead,
  tags: ['Runs'],
  summary: 'Read a run',
  request: { params: RunPathSchema, invalidParams: 'not_found' },
  responses: {
    200: { description: 'The run as it is now.', content: { 'application/json': { schema: RunSchema } } },
    ...runErrors,
  },
});

export const cancelRun = defineRoute({
  operationId: 'cancelRun',
  method: 'POST',
  path: '/v1/runs/{run_id}:cancel',
  scope: scopes.runsWrite,
  tags: ['Runs'],
  summary: 'Cancel a queued or running run',
  description:
    'The run ends `canceled` and appends run.canceled; no further step runs. Canceling a canceled run returns it unchanged.',
  request: { params: RunPathSchema, invalidParams: 'not_found' },
  responses: {
    200: { description: 'The canceled run.', content: { 'application/json': { schema: RunSchema } } },
    409: { description: 'conflict: the run already completed or failed.' },
    ...runErrors,
  },
});

export const listRuns = defineRoute({
  operationId: 'listRuns',
  method: 'GET',
  path: '/v1/runs',
  scope: scopes.runsRead,
  tags: ['Runs'],
  summary: 'List runs, newest first',
  description:
    'The tenant’s runs, newest first, optionally only those in one status. A member sees the runs it created; ' +
    'with `runs:read:all` it sees every run of the tenant. Follow `next_cursor` for the next page.',
  request: { query: RunListQuerySchema },
  responses: {
    200: { description: 'A page of runs.', content: { 'application/json': { schema: RunPageSchema } } },
    400: { description: 'invalid_request: an invalid status, limit or cursor.' },
    503: { description: 'dependency_unavailable: run storage could not be reached; retry.' },
  },
});

export const listRunSteps = defineRoute({
  operationId: 'listRunSteps',
  method: 'GET',
  path: '/v1/runs/{run_id}/steps',
  scope: scopes.runsRead,
  tags: ['Runs'],
  summary: 'A run’s steps, in order',
  description:
    'Each finished step: the model request (model_ref, messages sent and their size) and what answered it ' +
    '(provider, model, finish reason, usage), the tool calls with their arguments, attempts, results and ' +
    'errors, timings and deliveries: enough to debug or replay the run. Tool outputs and arguments are cut at ' +
    '16 KiB here; the run’s events keep them whole.',
  request: { params: RunPathSchema, invalidParams: 'not_found', query: StepQuerySchema },
  responses: {
    200: { description: 'A page of steps.', content: { 'application/json': { schema: StepPageSchema } } },
    400: { description: 'invalid_request: an invalid after, limit or cursor.' },
    ...runErrors,
  },
});

/** Every route of the Orchestrator API, in document order. */
export const orchestratorRoutes = [
  healthRoute,
  readinessRoute,
  createRun,
  listRuns,
  getRun,
  cancelRun,
  listRunEvents,
  listRunSteps,
  ...memoryRoutes,
  ...agentRoutes,
  ...toolRoutes,
  ...tenantAdminRoutes,
  ...capacityRoutes,
  ...peerAdminRoutes,
  ...principalRoutes,
  ...a2aRoutes,
  ...backgroundResponseRoutes,
  jwksRoute,
] as const;
