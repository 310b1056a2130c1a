import { z } from 'zod';
import { defineRoute } from '../../shared/http/route-spec.ts';
import type { HeaderSpec } from '../../shared/http/route-spec.ts';
import { IdempotencyKeySchema } from '../schemas/run.ts';
import { federationScopes } from './federation-scopes.ts';
import {
  CancelForwardedRunRequestSchema,
  CanceledForwardedRunSchema,
  ForwardedRunSchema,
  ForwardRunRequestSchema,
} from './schemas/run-forwarding.ts';

/**
 * `POST /v1/federation/runs:forward` (HLD §7.3), served by the Orchestrator to its trusted peers:
 * the caller authenticates with a peer token (peer-tokens.ts). Declared once; the handler is in
 * forward-handlers.ts.
 */

export const traceparent: HeaderSpec = {
  name: 'traceparent',
  required: true,
  description: 'W3C Trace Context of the forwarding call, so one trace spans both nodes.',
  schema: z.string().regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/, 'a W3C traceparent'),
};

export const tracestate: HeaderSpec = {
  name: 'tracestate',
  required: false,
  description: 'W3C Trace Context vendor state, passed through unchanged.',
};

export const peerErrors = {
  401: {
    description:
      'unauthorized: the peer token is missing, forged, expired, not yet valid, for another node, used already ' +
      '(peer tokens are single-use), lives longer than 5 minutes, or comes from a node this node does not trust.',
  },
  403: { description: 'forbidden: the calling peer is not trusted for the token’s tenant on this node.' },
  429: {
    description: 'rate_limited: the tenant’s forwarding rate or concurrency limit on this peer is reached.',
  },
  503: { description: 'dependency_unavailable: this peer cannot take work right now; retry later.' },
};

export const forwardRun = defineRoute({
  operationId: 'forwardRun',
  method: 'POST',
  path: '/v1/federation/runs:forward',
  scope: federationScopes.runsForward,
  tags: ['Federation'],
  summary: 'Run an agent on this peer for a tenant of the calling node',
  description:
    'The tenant and principal come from the verified peer token and are enforced here as if local (HLD §7.1): ' +
    'the tenant mapped through the calling peer’s record, its status, quotas and budgets. The answer names the run ' +
    'on this peer and an absolute `events_url` whose token opens that run’s events only.',
  authentication: 'peer',
  request: {
    body: ForwardRunRequestSchema,
    headers: [
      {
        name: 'Idempotency-Key',
        required: true,
        description:
          'Makes forwarding safe to retry: the same key and body return the run forwarded first (200).',
        schema: IdempotencyKeySchema,
      },
      traceparent,
      tracestate,
    ],
  },
  responses: {
    201: {
      description: 'The run was created on this peer.',
      content: { 'application/json': { schema: ForwardedRunSchema } },
    },
    200: {
      description: 'Replay: this Idempotency-Key already forwarded the same request.',
      content: { 'application/json': { schema: ForwardedRunSchema } },
    },
    400: {
      description: 'invalid_request: an invalid field, or a protocol version this peer does not speak.',
    },
    404: { description: 'not_found: the agent is not offered to this tenant on this peer.' },
    422: { description: 'idempotency_key_reused: the Idempotency-Key was used with a different body.' },
    ...peerErrors,
  },
});

export const cancelForwardedRun = defineRoute({
  operationId: 'cancelForwardedRun',
  method: 'POST',
  path: '/v1/federation/runs:cancel',
  // Cancelling is part of forwarding: the peer that may forward a run may take it back.
  scope: federationScopes.runsForward,
  tags: ['Federation'],
  summary: 'Cancel a run the calling peer forwarded to this node',
  description:
    'The origin of a forwarded run cancels it here when its client cancels it there (HLD §7.3), so the run stops ' +
    'spending this node’s budget. Only the peer that forwarded the run, for the tenant it was forwarded for, may ' +
    'cancel it; any other run answers 404 as a missing one. Idempotent: a run that already ended answers its ' +
    'final state (200). The run’s `run.canceled` reaches the origin through `events:ingest` as its other events do.',
  authentication: 'peer',
  request: { body: CancelForwardedRunRequestSchema, headers: [traceparent, tracestate] },
  responses: {
    200: {
      description: 'The run is canceled, or had already ended in the state named.',
      content: { 'application/json': { schema: CanceledForwardedRunSchema } },
    },
    400: { description: 'invalid_request: an invalid field.' },
    404: { description: 'not_found: no run the calling peer forwarded for this tenant has this id.' },
    ...peerErrors,
  },
});

/** The run forwarding routes, in document order. */
export const forwardRoutes = [forwardRun, cancelForwardedRun] as const;
