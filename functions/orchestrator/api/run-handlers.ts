import { healthHandler } from '../../shared/http/health-route.ts';
import { rateLimitHeaders } from '../../shared/limits/rate-limit-headers.ts';
import type { readinessRoute } from '../../shared/http/health-route.ts';
import type { jwksRoute } from '../../shared/http/jwks-route.ts';
import type { RouteHandler, RouteHandlers } from '../../shared/http/bound-route.ts';
import type { RunStatePort } from '../ports/run-state-port.ts';
import type { EventsUrlMinter } from '../events/stream-token.ts';
import type { EventStreamTiming } from '../events/run-event-stream.ts';
import type { RunEventHub } from '../events/run-event-hub.ts';
import type { StreamSlots } from '../events/stream-slots.ts';
import type { RunService } from '../runtime/run-service.ts';
import { withinPageBytes } from '../memory/namespace.ts';
import { runEventsHandler } from './run-events-handler.ts';
import type { memoryRoutes } from './memory-api.ts';
import type { orchestratorRoutes } from './run-api.ts';
import type { agentRoutes } from './agent-api.ts';
import type { toolRoutes } from './tool-api.ts';
import type { tenantAdminRoutes } from './tenant-admin-api.ts';
import type { principalRoutes } from './principal-api.ts';
import type { capacityRoutes } from './capacity-api.ts';
import type { a2aRoutes } from './a2a-api.ts';
import type { backgroundResponseRoutes } from './background-response-api.ts';
import type { peerAdminRoutes } from '../federation/peer-admin-api.ts';
import type { FederatedRuns } from '../federation/federated-runs.ts';
import { InvalidRequestError } from '../../shared/errors/agentos-error.ts';
import { outgoingTraceparent } from '../../shared/observability/trace-context.ts';
import { newTraceparent } from '../federation/event-pusher.ts';

/** The routes other handler sets serve (agent-, tool-, memory-, tenant-admin-, principal-, a2a- and background-response-handlers.ts). */
type OtherOperations =
  | (typeof agentRoutes)[number]['operationId']
  | (typeof toolRoutes)[number]['operationId']
  | (typeof memoryRoutes)[number]['operationId']
  | (typeof tenantAdminRoutes)[number]['operationId']
  | (typeof principalRoutes)[number]['operationId']
  | (typeof capacityRoutes)[number]['operationId']
  | (typeof a2aRoutes)[number]['operationId']
  | (typeof backgroundResponseRoutes)[number]['operationId']
  | (typeof peerAdminRoutes)[number]['operationId'];

/** What the Orchestrator's handlers are built on. */
export type RunHandlerDeps = {
  service: RunService;
  runs: RunStatePort;
  timing: EventStreamTiming;
  /** Shares one reader per run among the event streams of this process, and caps them. */
  hub: RunEventHub;
  /** The tenant's open-stream cap across the node; absent, only the hub's per-process caps apply. */
  streamSlots?: StreamSlots;
  /** `GET /v1/health/ready`, probing the service's dependencies. */
  readiness: RouteHandler<typeof readinessRoute>;
  /** Mints the absolute, token-carrying `events_url` of a created or read run. */
  eventsUrl: EventsUrlMinter;
  /** `GET /.well-known/jwks.json`, the node's public signing keys. */
  jwks: RouteHandler<typeof jwksRoute>;
  /** Forwards runs created with a `target` (HLD §7.3); absent, such a run is refused. */
  federatedRuns?: FederatedRuns;
};

/**
 * The handlers of the Orchestrator API, one per declared route (run-api.ts). Input arrives parsed
 * and validated; each handler calls the run service and shapes its answer.
 */
export function runHandlers({
  service,
  runs,
  timing,
  hub,
  streamSlots,
  readiness,
  jwks,
  eventsUrl,
  federatedRuns,
}: RunHandlerDeps): Omit<RouteHandlers<typeof orchestratorRoutes>, OtherOperations> {
  return {
    getHealth: healthHandler('agent-orchestrator'),
    getReadiness: readiness,
    getJwks: jwks,

    async createRun({ auth, tenant, body, headers, url }) {
      if (body.target !== undefined) {
        if (federatedRuns === undefined)
          throw new InvalidRequestError('This node does not forward runs', [
            { field: 'target', message: 'not served by this node' },
          ]);
        const placed = await federatedRuns.place(auth, body.target, {
          body,
          idempotencyKey: headers['idempotency-key'],
        });
        if (placed.where === 'peer') {
          const { run, replayed, rateLimit } = await federatedRuns.createRun(
            auth,
            body,
            placed.peerId,
            headers['idempotency-key'],
            outgoingTraceparent() ?? newTraceparent(),
            () => service.takeRunCreation(tenant),
          );
          return {
            status: replayed ? 200 : 201,
            headers: {
              location: `/v1/runs/${run.run_id}`,
              ...(replayed ? { 'idempotent-replayed': 'true' } : {}),
              ...(rateLimit === undefined ? {} : rateLimitHeaders(rateLimit)),
            },
            json: { ...run, events_url: await eventsUrl(auth, run.run_id, url) },
          };
        }
      }
      const { run, replayed, rateLimit } = await service.createRun(
        auth,
        body,
        headers['idempotency-key'],
        tenant,
      );
      return {
        status: replayed ? 200 : 201,
        headers: {
          location: `/v1/runs/${run.run_id}`,
          ...(replayed ? { 'idempotent-replayed': 'true' } : {}),
          // The tenant's run creation bucket after this run (HLD §10.2); a replay takes nothing from it.
          ...(rateLimit === undefined ? {} : rateLimitHeaders(rateLimit)),
        },
        json: { ...run, events_url: await eventsUrl(auth, run.run_id, url) },
      };
    },

    async listRuns({ auth, query }) {
      const { runs, nextCursor } = await service.listRuns(auth, {
        limit: query.limit ?? 20,
        ...(query.status === undefined ? {} : { status: query.status }),
        ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
      });
      return { status: 200, json: { object: 'list', data: runs, next_cursor: nextCursor } };
    },

    async listRunSteps({ auth, params, query }) {
      const limit = query.limit ?? 20;
      const after = Math.max(query.after ?? 0, query.cursor === undefined ? 0 : Number(query.cursor));
      // One more than a page, to know whether another page follows.
      const steps = await service.listSteps(auth, params.run_id, after, limit + 1);
      // Within one response's bytes: steps that do not fit come on the next page.
      const page = withinPageBytes(steps.slice(0, limit));
      const last = page.at(-1);
      return {
        status: 200,
        json: {
          object: 'list',
          data: page,
          next_cursor: steps.length > page.length && last !== undefined ? String(last.step) : null,
        },
      };
    },

    async getRun({ auth, params, url }) {
      const run = await service.getRun(auth, params.run_id);
      return { status: 200, json: { ...run, events_url: await eventsUrl(auth, run.run_id, url) } };
    },

    async cancelRun({ auth, tenant, params }) {
      return { status: 200, json: await service.cancelRun(auth, params.run_id, tenant) };
    },

    ...runEventsHandler({
      service,
      runs,
      timing,
      hub,
      ...(streamSlots === undefined ? {} : { streamSlots }),
    }),
  };
}
