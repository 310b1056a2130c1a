import { Readable } from 'node:stream';
import { z } from 'zod';
import { scopes } from '../../shared/auth/auth-context.ts';
import { InvalidRequestError, NotFoundError } from '../../shared/errors/agentos-error.ts';
import type { Route } from '../../shared/http/api-types.ts';
import { parseJsonBody, validate } from '../../shared/http/json-body.ts';
import type { RunStatePort } from '../ports/run-state-port.ts';
import { gaplessAfter } from '../events/event-order.ts';
import { followRunEvents } from '../events/run-event-stream.ts';
import type { EventStreamTiming } from '../events/run-event-stream.ts';
import type { RunService } from '../runtime/run-service.ts';
import {
  CreateRunRequestSchema,
  EventQuerySchema,
  IdempotencyKeySchema,
  RunIdSchema,
} from '../schemas/run.ts';

/** Largest accepted `POST /v1/runs` body. */
export const maxCreateRunBytes = 128 * 1024;

function runIdOf(params: Record<string, string>): string {
  const runId = params['run_id'] ?? '';
  // A malformed id cannot name an existing run; answer as for any unknown run.
  if (!RunIdSchema.safeParse(runId).success) throw new NotFoundError(`Run ${runId} was not found`);
  return runId;
}

/** Routes of the buffered Orchestrator API Lambda. */
export function runRoutes(service: RunService): Route[] {
  return [
    {
      method: 'POST',
      path: '/v1/runs',
      scope: scopes.runsWrite,
      async handle(request) {
        const body = parseJsonBody(request.body, CreateRunRequestSchema, { maxBytes: maxCreateRunBytes });
        const rawKey = request.headers['idempotency-key'];
        if (rawKey !== undefined && !IdempotencyKeySchema.safeParse(rawKey).success) {
          throw new InvalidRequestError('Invalid Idempotency-Key header', [
            { field: 'Idempotency-Key', message: 'must be 1-255 printable ASCII characters' },
          ]);
        }
        const { run, replayed } = await service.createRun(request.auth, body, rawKey);
        return {
          status: replayed ? 200 : 201,
          headers: {
            location: `/v1/runs/${run.run_id}`,
            ...(replayed ? { 'idempotent-replayed': 'true' } : {}),
          },
          json: run,
        };
      },
    },
    {
      method: 'GET',
      path: '/v1/runs/{run_id}',
      scope: scopes.runsRead,
      async handle(request) {
        return { status: 200, json: await service.getRun(request.auth, runIdOf(request.params)) };
      },
    },
    {
      method: 'POST',
      path: '/v1/runs/{run_id}:cancel',
      scope: scopes.runsWrite,
      async handle(request) {
        return { status: 200, json: await service.cancelRun(request.auth, runIdOf(request.params)) };
      },
    },
  ];
}

/** Routes of the streaming Orchestrator Lambda: a run's events as SSE, or as a JSON page. */
export function eventRoutes(service: RunService, runs: RunStatePort, timing: EventStreamTiming): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/runs/{run_id}/events',
      scope: scopes.runsRead,
      async handle(request) {
        const runId = runIdOf(request.params);
        const query = validate(EventQuerySchema, request.query, 'query');
        const lastEventId = request.headers['last-event-id'];
        let after = query.after ?? 0;
        if (lastEventId !== undefined && lastEventId !== '') {
          const parsed = z.coerce.number().int().nonnegative().safeParse(lastEventId);
          if (!parsed.success) {
            throw new InvalidRequestError('Invalid Last-Event-ID header', [
              { field: 'Last-Event-ID', message: 'must be an event sequence' },
            ]);
          }
          after = Math.max(after, parsed.data);
        }
        const wantsStream = (request.headers['accept'] ?? '').includes('text/event-stream');
        if (!wantsStream) {
          const limit = query.limit ?? 100;
          const { events } = await service.listEvents(request.auth, runId, after, limit + 1);
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
        const run = await service.getRun(request.auth, runId);
        const stream = Readable.from(
          followRunEvents({
            runs,
            auth: request.auth,
            runId,
            after,
            initialStatus: run.status,
            timing,
            signal: request.signal,
          }),
        );
        return {
          status: 200,
          headers: {
            'content-type': 'text/event-stream; charset=utf-8',
            'cache-control': 'no-cache, no-transform',
            'x-accel-buffering': 'no',
          },
          stream,
        };
      },
    },
  ];
}
