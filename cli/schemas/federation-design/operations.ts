import { z } from 'zod';
import type { HeaderSpec, RouteSpec } from '../../../functions/shared/http/route-spec.ts';
import { IdempotencyKeySchema } from '../../../functions/orchestrator/schemas/run.ts';
import { federationScopes } from './federation-scopes.ts';
import {
  IngestEventsRequestSchema,
  IngestEventsResultSchema,
} from '../../../functions/orchestrator/federation/schemas/event-ingest.ts';
import { peerRoutes } from '../../../functions/orchestrator/federation/peer-api.ts';
import {
  ForwardedRunSchema,
  ForwardRunRequestSchema,
} from '../../../functions/orchestrator/federation/schemas/run-forwarding.ts';

/**
 * The Federation API (HLD §7), served by the Agent Orchestrator between peer nodes. The discovery
 * routes are served (functions/orchestrator/federation/peer-api.ts); the others are designed, not
 * served yet: `implemented: false` until their route exists.
 */

const traceparent: HeaderSpec = {
  name: 'traceparent',
  required: true,
  description: 'W3C Trace Context of the forwarding call, so one trace spans both nodes.',
  schema: z.string().regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/, 'a W3C traceparent'),
};

const tracestate: HeaderSpec = {
  name: 'tracestate',
  required: false,
  description: 'W3C Trace Context vendor state, passed through unchanged.',
};

const peerErrors = {
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

export const federationOperations: RouteSpec[] = [
  ...peerRoutes,
  {
    operationId: 'forwardRun',
    method: 'POST',
    path: '/v1/federation/runs:forward',
    scope: federationScopes.runsForward,
    tags: ['Federation'],
    summary: 'Run an agent on this peer for a tenant of the calling node',
    description:
      'The tenant and principal come from the verified peer JWT and are enforced here as if local (HLD §7.1). ' +
      'The answer names the run on this peer and where to stream its events.',
    implemented: false,
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
  },
  {
    operationId: 'ingestEvents',
    method: 'POST',
    path: '/v1/federation/events:ingest',
    scope: federationScopes.eventsIngest,
    tags: ['Federation'],
    summary: 'Replicate run events from a peer',
    description:
      'At-least-once: events already held (same event_id) are dropped, and each run’s events are ordered by ' +
      'sequence. The answer says, per run, up to which sequence everything is held.',
    implemented: false,
    request: { body: IngestEventsRequestSchema, headers: [traceparent, tracestate] },
    responses: {
      200: {
        description: 'The batch was taken.',
        content: { 'application/json': { schema: IngestEventsResultSchema } },
      },
      400: { description: 'invalid_request: an invalid event or an oversized batch.' },
      404: { description: 'not_found: an event names a run this tenant did not forward to the sender.' },
      ...peerErrors,
    },
  },
];
