import { z } from 'zod';
import { scopes } from '../../shared/auth/auth-context.ts';
import { defineRoute } from '../../shared/http/route-spec.ts';
import type { HeaderSpec } from '../../shared/http/route-spec.ts';
import {
  BackgroundResponseEventSchema,
  BackgroundResponseSchema,
  CreateBackgroundResponseRequestSchema,
  ResponseIdSchema,
  RetrieveBackgroundResponseQuerySchema,
} from '../schemas/background-response.ts';
import { IdempotencyKeySchema } from '../schemas/run.ts';

/**
 * OpenAI Responses-style background mode over runs (HLD §2.1): an OpenAI client whose base URL is
 * the Orchestrator's `/v1` drives an agent with `responses.create({ model: agentId, background:
 * true })`, `responses.retrieve`, its streamed form with `starting_after`, and `responses.cancel`.
 * Declared once here; background-response-handlers.ts serves them.
 */

/** Largest accepted `POST /v1/responses` body. */
export const maxBackgroundResponseBytes = 128 * 1024;

const ResponsePathSchema = z.strictObject({
  response_id: ResponseIdSchema.describe(
    'The response id; a malformed id is answered like an unknown one (404).',
  ),
});

const idempotencyKey: HeaderSpec = {
  name: 'Idempotency-Key',
  required: false,
  description:
    'As on POST /v1/runs (OpenAI has no such header): the same key with the same body returns the response ' +
    'created first (Idempotent-Replayed: true); with another body the answer is 422 idempotency_key_reused.',
  schema: IdempotencyKeySchema,
};

const typedEvents = {
  schema: BackgroundResponseEventSchema,
  sse: {
    event: 'The event’s `type`.',
    data:
      'One event as JSON with its `sequence_number`, numbered from 0 over the run’s whole event log: ' +
      'response.created, response.queued, response.in_progress, then for a completed run ' +
      'response.output_item.added, response.content_part.added, response.output_text.delta, ' +
      'response.output_text.done, response.content_part.done, response.output_item.done and ' +
      'response.completed; a failed run ends with response.failed, a cancelled one with response.cancelled.',
    retry: 'A reconnection delay hint in milliseconds, sent once at the start.',
    comments: '`: keep-alive` when nothing else was sent for 15 seconds.',
    resume:
      'GET /v1/responses/{response_id}?stream=true&starting_after=N gives exactly the events after N, for as long ' +
      'as the run is kept.',
  },
} as const;

const notFound = {
  404: { description: 'not_found: no such response for this tenant (another tenant’s is never revealed).' },
};

export const createBackgroundResponse = defineRoute({
  operationId: 'createBackgroundResponse',
  method: 'POST',
  path: '/v1/responses',
  scope: scopes.runsWrite,
  tags: ['OpenAI-compatible'],
  summary: 'Start an agent run as an OpenAI-style background response',
  description:
    '`model` is the agent id and `background` must be true. Creates a run as POST /v1/runs does (the same ' +
    'quotas, `instructions` as a system message, then the input messages) and answers it as a response; ' +
    'with `stream: true` it answers with its typed events until the run ends.',
  request: {
    body: CreateBackgroundResponseRequestSchema,
    maxBodyBytes: maxBackgroundResponseBytes,
    headers: [idempotencyKey],
  },
  responses: {
    200: {
      description: 'The response (queued), or with `stream: true` its typed events.',
      content: { 'application/json': { schema: BackgroundResponseSchema }, 'text/event-stream': typedEvents },
    },
    400: { description: 'invalid_request: a field the schema refuses, or `background` not true.' },
    404: { description: 'not_found: no such agent for this tenant.' },
    422: { description: 'idempotency_key_reused: the Idempotency-Key was used with another body.' },
    429: { description: 'rate_limited: the tenant’s run quotas; retry after `Retry-After` seconds.' },
    503: { description: 'dependency_unavailable: run storage could not be reached; retry.' },
  },
});

export const retrieveBackgroundResponse = defineRoute({
  operationId: 'retrieveBackgroundResponse',
  method: 'GET',
  path: '/v1/responses/{response_id}',
  scope: scopes.runsRead,
  tags: ['OpenAI-compatible'],
  summary: 'A background response as it is now, or its typed events',
  description:
    'Poll the response, or with `stream=true` stream its typed events from the start or after ' +
    '`starting_after`, until the run ends.',
  request: {
    params: ResponsePathSchema,
    invalidParams: 'not_found',
    query: RetrieveBackgroundResponseQuerySchema,
  },
  responses: {
    200: {
      description: 'The response, or its typed events.',
      content: { 'application/json': { schema: BackgroundResponseSchema }, 'text/event-stream': typedEvents },
    },
    400: { description: 'invalid_request: an invalid stream or starting_after.' },
    429: {
      description:
        'rate_limited: too many open event streams (`details.limit` `node_sse_connections` or ' +
        '`tenant_sse_connections`); retry after `Retry-After` seconds.',
    },
    ...notFound,
    503: { description: 'dependency_unavailable: run storage could not be reached; retry.' },
  },
});

export const cancelBackgroundResponse = defineRoute({
  operationId: 'cancelBackgroundResponse',
  method: 'POST',
  path: '/v1/responses/{response_id}/cancel',
  scope: scopes.runsWrite,
  tags: ['OpenAI-compatible'],
  summary: 'Cancel a background response',
  description:
    'Cancels its run as POST /v1/runs/{run_id}:cancel does. A response that has already ended is answered as it is.',
  request: { params: ResponsePathSchema, invalidParams: 'not_found' },
  responses: {
    200: {
      description: 'The response after the cancel (`cancelled`), or as it ended.',
      content: { 'application/json': { schema: BackgroundResponseSchema } },
    },
    ...notFound,
    503: { description: 'dependency_unavailable: run storage could not be reached; retry.' },
  },
});

/** The background response routes, in document order. */
export const backgroundResponseRoutes = [
  createBackgroundResponse,
  retrieveBackgroundResponse,
  cancelBackgroundResponse,
] as const;
