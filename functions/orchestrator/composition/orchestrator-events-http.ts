import { adminConfigFromEnv } from './orchestrator-config.ts';
import {
  eventStreamTimingFromEnv,
  streamLimitsFromEnv,
  streamTokenConfigFromEnv,
} from './orchestrator-config.ts';
import { jwtVerifierFromEnv, serviceTokenIssuerFromEnv } from '../../shared/auth/auth-config.ts';
import type { DetachedSigner, IdentifyingTokenIssuer } from '../../shared/auth/token-issuer.ts';
import { bindRoutes } from '../../shared/http/bound-route.ts';
import { corsPolicyFromEnv } from '../../shared/http/cors.ts';
import { createHttpApp } from '../../shared/http/http-app.ts';
import type { HttpApp } from '../../shared/http/http-app.ts';
import { a2aRoutes } from '../api/a2a-api.ts';
import { a2aHandlers } from '../api/a2a-handlers.ts';
import { backgroundResponseRoutes } from '../api/background-response-api.ts';
import { backgroundResponseHandlers } from '../api/background-response-handlers.ts';
import { listRunEvents } from '../api/run-events-api.ts';
import { runEventsHandler } from '../api/run-events-handler.ts';
import { RunEventHub } from '../events/run-event-hub.ts';
import { processRunSignals } from '../events/run-signals.ts';
import { createStreamSlots } from '../events/stream-slots.ts';
import { createEventsUrlMinter } from '../events/stream-token.ts';
import { maxCreateRunBytes } from '../schemas/run.ts';
import type { OrchestratorCore } from './orchestrator-core.ts';

/**
 * The routes that answer with a stream (a run's events, A2A's JSON-RPC, background responses): the
 * events function serves them alone (infra/resources/definitions.ts `apiRoutes`), so its entry loads
 * these declarations and handlers and none of the API's others (HLD §2.1).
 */

/** What the streaming routes' handlers share: one reader per run and one count of open streams. */
export function streamingParts(core: OrchestratorCore) {
  const { env, runs, telemetry, pool, reportFailure, service, agents } = core;
  const timing = eventStreamTimingFromEnv(env);
  // Only token issuance (principals' and stream tokens) needs the node's signing key: read on first use.
  let issuer: (IdentifyingTokenIssuer & DetachedSigner) | undefined;
  const signingIssuer = () => (issuer ??= serviceTokenIssuerFromEnv(env));
  // One reader per run and one slot count, shared by the runs API's and A2A's event streams.
  const streams = {
    runs,
    timing,
    hub: new RunEventHub({
      runs,
      timing,
      signals: processRunSignals,
      limits: streamLimitsFromEnv(env),
      onOpenStreams: (open) => telemetry.metrics.setGauge('SseConnectionsOpen', open),
    }),
    streamSlots: createStreamSlots({ pool, reportFailure }),
  };
  const streamTokens = streamTokenConfigFromEnv(env);
  // Signed with the node's key, like the principals' tokens (HLD §3.3).
  const eventsUrl = createEventsUrlMinter({ issuer: signingIssuer, ...streamTokens });
  return {
    streams,
    eventsUrl,
    signingIssuer,
    handlers: {
      ...runEventsHandler({ service, ...streams }),
      ...backgroundResponseHandlers({ service, ...streams, eventsUrl }),
      ...a2aHandlers({
        service,
        agents,
        ...streams,
        publicBaseUrl: streamTokens.publicBaseUrl,
        // Cards are signed with the node's key, the one its JWKS publishes (HLD §3.3).
        signCard: (payload, header) => signingIssuer().signDetached(payload, header),
      }),
    },
  };
}

/** The declarations of the streaming routes, in the Orchestrator document's order. */
export const streamingRoutes = [listRunEvents, ...a2aRoutes, ...backgroundResponseRoutes] as const;

/** The HTTP core of the events function: the streaming routes, with the API's authentication. */
export function orchestratorEventsHttpApp(core: OrchestratorCore): HttpApp {
  const { env, tenancy, telemetry } = core;
  return createHttpApp({
    service: 'agent-orchestrator',
    routes: bindRoutes(streamingRoutes, streamingParts(core).handlers),
    verifier: jwtVerifierFromEnv(env),
    cors: corsPolicyFromEnv(env),
    admission: tenancy.admission,
    operatorTenantId: adminConfigFromEnv(env).operatorTenantId,
    telemetry,
    maxBodyBytes: maxCreateRunBytes,
  });
}
