import type { RouteSpec } from '../../../functions/shared/http/route-spec.ts';
import {
  forwardRun,
  peerErrors,
  traceparent,
  tracestate,
} from '../../../functions/orchestrator/federation/forward-api.ts';
import { federationScopes } from '../../../functions/orchestrator/federation/federation-scopes.ts';
import {
  IngestEventsRequestSchema,
  IngestEventsResultSchema,
} from '../../../functions/orchestrator/federation/schemas/event-ingest.ts';
import { peerRoutes } from '../../../functions/orchestrator/federation/peer-api.ts';

/**
 * The Federation API (HLD §7), served by the Agent Orchestrator between peer nodes. Discovery and
 * run forwarding are served (functions/orchestrator/federation/peer-api.ts, forward-api.ts); event
 * ingest is designed, not served yet: `implemented: false` until its route exists.
 */

export const federationOperations: RouteSpec[] = [
  ...peerRoutes,
  forwardRun,
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
