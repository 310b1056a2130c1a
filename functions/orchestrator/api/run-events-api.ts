import { z } from 'zod';
import { scopes } from '../../shared/auth/auth-context.ts';
import { defineRoute } from '../../shared/http/route-spec.ts';
import type { HeaderSpec } from '../../shared/http/route-spec.ts';
import { runEventsResource, streamTokenParameter } from '../events/stream-token.ts';
import { EventPageSchema, RunEventSchema } from '../schemas/event.ts';
import { EventQuerySchema, RunIdSchema } from '../schemas/run.ts';

/**
 * A run's events route, declared here rather than beside the other run routes (run-api.ts, which
 * lists it among the Orchestrator's routes): the events function serves it with the streaming
 * routes alone, and importing this module loads none of the API's other declarations.
 */

/** A run's path parameters. */
export const RunPathSchema = z.strictObject({
  run_id: RunIdSchema.describe('The run id; a malformed id is answered like an unknown run (404).'),
});

const lastEventId: HeaderSpec = {
  name: 'Last-Event-ID',
  required: false,
  description:
    'The sequence of the last event the client has (sent by EventSource on reconnect); the larger of it and `after` wins.',
  schema: z.string().regex(/^\d+$/, 'must be an event sequence'),
  emptyMeansAbsent: true,
};

/** The answers of every route about one run. */
export const runErrors = {
  404: { description: 'not_found: no such run for this tenant (another tenant’s run is never revealed).' },
  503: { description: 'dependency_unavailable: run storage could not be reached; retry.' },
};

export const listRunEvents = defineRoute({
  operationId: 'listRunEvents',
  method: 'GET',
  path: '/v1/runs/{run_id}/events',
  scope: scopes.runsRead,
  tags: ['Events'],
  summary: 'A run’s events, streamed (SSE) or as a JSON page',
  description:
    'With `Accept: text/event-stream` the events after `after` / `Last-Event-ID` are replayed, then followed live ' +
    'until the terminal event (run.completed, run.failed or run.canceled), after which the stream closes; a ' +
    'reconnect after the terminal event is answered 204 No Content, which stops EventSource. ' +
    'Otherwise one JSON page is returned. Sequences are per run, gapless and increasing; consumers dedupe by ' +
    'event_id. Event types may be added: clients skip types they do not know. Instead of the Authorization ' +
    'header, the `stream_token` of the run’s `events_url` authenticates (for EventSource, which cannot set ' +
    'headers): it reads this run’s events only, for minutes, and no other route or run accepts it.',
  request: {
    params: RunPathSchema,
    invalidParams: 'not_found',
    query: EventQuerySchema,
    headers: [lastEventId],
  },
  // A browser's EventSource cannot send Authorization: the run's events_url carries a token instead.
  queryToken: { name: streamTokenParameter, resource: (params) => runEventsResource(params['run_id'] ?? '') },
  responses: {
    200: {
      description: 'The events.',
      content: {
        'application/json': { schema: EventPageSchema },
        'text/event-stream': {
          schema: RunEventSchema,
          sse: {
            id: 'The event’s sequence.',
            event: 'The event’s type, e.g. run.completed.',
            data: 'The whole RunEvent as one line of JSON (this media type’s schema).',
            retry: 'A reconnection delay hint in milliseconds, sent once at the start.',
            comments: '`: keep-alive` when nothing else was sent for 15 seconds.',
            resume:
              'Reconnect with Last-Event-ID (EventSource does this) or ?after= to get exactly the rest.',
          },
        },
      },
    },
    204: {
      description:
        'Stream only: the run has ended and the client already has its terminal event (`Last-Event-ID` or ' +
        '`after` at or past it). No Content stops an EventSource from reconnecting.',
    },
    400: { description: 'invalid_request: an invalid query parameter or Last-Event-ID.' },
    429: {
      description:
        'rate_limited: the serving process holds as many event streams as it allows (`details.limit` ' +
        '`node_sse_connections`), or the tenant holds as many as allowed, in that process or across the node ' +
        'as its `max_sse_connections` allows (`details.limit` `tenant_sse_connections`); retry after the ' +
        '`Retry-After` seconds.',
    },
    ...runErrors,
  },
});
