import type { EmptyResult, RouteHandler } from '../../shared/http/bound-route.ts';
import { gaplessAfter } from '../events/event-order.ts';
import { openRunStream, sseHeaders } from '../events/open-run-stream.ts';
import type { RunEventHub } from '../events/run-event-hub.ts';
import type { EventStreamTiming } from '../events/run-event-stream.ts';
import type { StreamSlots } from '../events/stream-slots.ts';
import type { RunStatePort } from '../ports/run-state-port.ts';
import type { RunService } from '../runtime/run-service.ts';
import { isTerminal } from '../runtime/run-state-machine.ts';
import type { listRunEvents } from './run-events-api.ts';

/** What a run's events are read and streamed from. */
export type RunEventsHandlerDeps = {
  service: RunService;
  runs: RunStatePort;
  timing: EventStreamTiming;
  /** Shares one reader per run among the event streams of this process, and caps them. */
  hub: RunEventHub;
  /** The tenant's open-stream cap across the node; absent, only the hub's per-process caps apply. */
  streamSlots?: StreamSlots;
};

/**
 * The handler of a run's events (run-events-api.ts), apart from the other run handlers
 * (run-handlers.ts, which serves it too) so that the events function loads only what it serves.
 */
export function runEventsHandler({ service, runs, timing, hub, streamSlots }: RunEventsHandlerDeps): {
  listRunEvents: RouteHandler<typeof listRunEvents>;
} {
  return {
    async listRunEvents({ auth, tenant, params, query, headers, signal }) {
      const runId = params.run_id;
      const lastEventId = headers['last-event-id'];
      const after = Math.max(
        query.after ?? 0,
        lastEventId === undefined || lastEventId === '' ? 0 : Number(lastEventId),
      );
      const wantsStream = (headers['accept'] ?? '').includes('text/event-stream');
      if (!wantsStream) {
        const limit = query.limit ?? 100;
        const { events } = await service.listEvents(auth, runId, after, limit + 1);
        const page = gaplessAfter(events, after).slice(0, limit);
        return {
          status: 200,
          json: {
            object: 'list',
            data: page,
            // Also true when a commit is only partly visible yet: the rest comes with the next page.
            has_more: events.length > page.length,
            next_after: page.at(-1)?.sequence ?? after,
          },
        };
      }
      const run = await service.getRun(auth, runId);
      // A client that already has the terminal event is told to stop: 204 ends EventSource's
      // reconnecting (WHATWG HTML §9.2.3), where an empty 200 would have it reconnect forever.
      if (isTerminal(run.status) && after >= run.last_sequence) {
        const noContent: EmptyResult = { status: 204, headers: { 'cache-control': 'no-store' }, empty: true };
        return noContent;
      }
      // Refused (429) before the response starts when too many streams are open: the tenant's
      // across the node, then this process's.
      const stream = await openRunStream(
        { runs, timing, hub, ...(streamSlots === undefined ? {} : { streamSlots }) },
        { auth, tenant, runId, after, lastSequence: run.last_sequence, initialStatus: run.status, signal },
      );
      return {
        status: 200,
        headers: sseHeaders,
        stream,
      };
    },
  };
}
