import { defineRoute } from '../../shared/http/route-spec.ts';
import { federationScopes } from './federation-scopes.ts';
import { peerErrors, traceparent, tracestate } from './forward-api.ts';
import { IngestEventsRequestSchema, IngestEventsResultSchema } from './schemas/event-ingest.ts';

/**
 * `POST /v1/federation/events:ingest` (HLD §7.4), served by the Orchestrator to the peers it
 * forwarded runs to: the caller authenticates with a peer token (peer-tokens.ts). Declared once;
 * the handler is in ingest-handlers.ts.
 */
export const ingestEvents = defineRoute({
  operationId: 'ingestEvents',
  method: 'POST',
  path: '/v1/federation/events:ingest',
  scope: federationScopes.eventsIngest,
  tags: ['Federation'],
  summary: 'Replicate run events from a peer',
  description:
    'The peer a run was forwarded to sends the run’s events back to the node it came from, each event naming the ' +
    'run on this node (the forward’s `origin.run_id`). At-least-once: events already held are dropped, each run’s ' +
    'events are stored in sequence order without a gap (an event past a gap is not stored), and the answer says, ' +
    'per run, up to which sequence everything is held and which sequence to send next. The run’s own events ' +
    'API and SSE stream on this node then serve them, each with the `node_id` of the peer.',
  authentication: 'peer',
  request: { body: IngestEventsRequestSchema, headers: [traceparent, tracestate] },
  responses: {
    200: {
      description: 'The batch was taken (`accepted` may be 0: everything was held already, or past a gap).',
      content: { 'application/json': { schema: IngestEventsResultSchema } },
    },
    400: {
      description:
        'invalid_request: an invalid event, an oversized batch, or a `source_node_id` other than the calling peer.',
    },
    404: {
      description:
        'not_found: an event names a run this tenant did not forward to the calling peer (or no such run); nothing ' +
        'of the batch is stored.',
    },
    ...peerErrors,
  },
});

/** The event replication routes, in document order. */
export const ingestRoutes = [ingestEvents] as const;
