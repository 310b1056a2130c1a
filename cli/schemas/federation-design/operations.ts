import type { RouteSpec } from '../../../functions/shared/http/route-spec.ts';
import { cancelForwardedRun, forwardRun } from '../../../functions/orchestrator/federation/forward-api.ts';
import { ingestEvents } from '../../../functions/orchestrator/federation/ingest-api.ts';
import { peerRoutes } from '../../../functions/orchestrator/federation/peer-api.ts';

/**
 * The Federation API (HLD §7), served by the Agent Orchestrator between peer nodes: discovery, run
 * forwarding and event replication (functions/orchestrator/federation/peer-api.ts, forward-api.ts,
 * ingest-api.ts).
 */
export const federationOperations: RouteSpec[] = [
  ...peerRoutes,
  forwardRun,
  cancelForwardedRun,
  ingestEvents,
];
