import { scopes } from '../../shared/auth/auth-context.ts';
import type { AuthContext } from '../../shared/auth/auth-context.ts';
import { ConflictError, InvalidRequestError, NotFoundError } from '../../shared/errors/agentos-error.ts';
import type { RouteHandlers } from '../../shared/http/bound-route.ts';
import type { EventsUrlMinter } from '../events/stream-token.ts';
import type { RunRecord, RunStatePort } from '../ports/run-state-port.ts';
import type { RunService } from '../runtime/run-service.ts';
import type { forwardRoutes } from './forward-api.ts';
import { federationProtocolVersions } from './schemas/peer-identity.ts';
import type { CanceledForwardedRun, ForwardedRun } from './schemas/run-forwarding.ts';

/** What run forwarding is built on. */
export type ForwardHandlerDeps = {
  service: Pick<RunService, 'createRun' | 'cancelRun'>;
  /** Reads a run of the caller's tenant, to check which peer forwarded it. */
  runs: Pick<RunStatePort, 'getRun'>;
  eventsUrl: EventsUrlMinter;
  /** This node's id, named in the answer. */
  nodeId: string;
  /**
   * Sends the run's events to its origin again (HLD §7.4), when a forward is replayed: the origin
   * retrying a forward it already made asks for what it may have missed. Its failure is its own,
   * and its time is bounded (the pusher's budget, a few seconds) well within the origin's forward
   * timeout, so the answer always arrives.
   */
  resendEvents?: (auth: AuthContext, runId: string) => Promise<void>;
};

/** Metadata keys that link a forwarded run to the run it serves on the origin node. */
export const originMetadata = { node: 'federation.origin_node_id', run: 'federation.origin_run_id' } as const;

/**
 * Whether `peerId` forwarded `run`: the run service recorded the forwarding peer both in the run's
 * principal (`peer/<peer_id>/<sub>`, which no local caller can hold) and its origin metadata.
 */
function forwardedBy(run: RunRecord, peerId: unknown): boolean {
  return (
    typeof peerId === 'string' &&
    run.principal_id.startsWith(`peer/${peerId}/`) &&
    run.metadata[originMetadata.node] === peerId
  );
}

/**
 * The handlers of `POST /v1/federation/runs:forward` and `POST /v1/federation/runs:cancel` (forward-api.ts, HLD §7.3). The caller is a
 * verified peer acting for a tenant of this node (its principal `peer/<peer_id>/<sub>`), admitted
 * like any caller; the run is created by the run service exactly as `POST /v1/runs` creates one,
 * so the tenant's quotas, budgets and policy apply, and the Idempotency-Key makes a retried or
 * concurrent forward return the same run.
 */
export function forwardHandlers(deps: ForwardHandlerDeps): RouteHandlers<typeof forwardRoutes> {
  return {
    async forwardRun({ auth, tenant, body, headers, url }) {
      if (!(federationProtocolVersions as readonly string[]).includes(body.protocol_version))
        throw new InvalidRequestError(`This node does not speak ${body.protocol_version}`, [
          { field: 'protocol_version', message: `supported: ${federationProtocolVersions.join(', ')}` },
        ]);
      const peerId = auth.policy_context['peer_id'];
      if (body.origin.node_id !== peerId)
        throw new InvalidRequestError('The origin is not the calling peer', [
          { field: 'origin.node_id', message: 'must be the node id the peer token was issued by' },
        ]);
      // The run is the peer's principal's with this node's minimal run scopes, never the peer's claims.
      const runAuth = { ...auth, scopes: [scopes.runsWrite, scopes.runsRead] };
      const { run, replayed } = await deps.service.createRun(
        runAuth,
        {
          agent_id: body.agent_id,
          input: body.input,
          metadata: {
            ...body.metadata,
            [originMetadata.node]: body.origin.node_id,
            ...(body.origin.run_id === undefined ? {} : { [originMetadata.run]: body.origin.run_id }),
          },
        },
        headers['idempotency-key'],
        tenant,
      );
      // The events URL's token opens this run's events only, whatever the peer token held.
      const events = await deps.eventsUrl({ ...auth, scopes: [scopes.runsRead] }, run.run_id, url);
      const answer: ForwardedRun = {
        object: 'federation.forwarded_run',
        node_id: deps.nodeId,
        run_id: run.run_id,
        status: run.status,
        events_url: events,
        created_at: run.created_at,
      };
      if (replayed) await deps.resendEvents?.(runAuth, run.run_id);
      return { status: replayed ? 200 : 201, json: answer };
    },

    async cancelForwardedRun({ auth, tenant, body }) {
      // The run is read in the tenant the peer token maps to: another tenant's run is not found.
      const run = await deps.runs.getRun(auth, body.run_id);
      // A run another peer forwarded, or a local one, answers as a missing run (HLD §5.2).
      if (run === undefined || !forwardedBy(run, auth.policy_context['peer_id']))
        throw new NotFoundError(`Run ${body.run_id} was not found`);
      // Any principal of the origin may take back the tenant's run there; here it is the peer's run.
      const cancelAuth = { ...auth, scopes: [scopes.runsWrite, scopes.runsWriteAll] };
      let status = run.status;
      try {
        // With the tenant, the cancel frees the run's slots and wakes the tenant's waiting runs.
        status = (await deps.service.cancelRun(cancelAuth, run.run_id, tenant)).status;
      } catch (error) {
        // A run that ended first answers its final state: the origin asked for nothing more.
        if (!(error instanceof ConflictError)) throw error;
        status = (await deps.runs.getRun(auth, run.run_id))?.status ?? status;
      }
      const answer: CanceledForwardedRun = {
        object: 'federation.canceled_run',
        node_id: deps.nodeId,
        run_id: run.run_id,
        status,
      };
      return { status: 200, json: answer };
    },
  };
}
