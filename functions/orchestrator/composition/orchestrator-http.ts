import { jwtVerifierEnv, jwtVerifierFromEnv, nodeJwksEnv } from '../../shared/auth/auth-config.ts';
import { bindRoutes } from '../../shared/http/bound-route.ts';
import { corsPolicyFromEnv } from '../../shared/http/cors.ts';
import { readinessHandler, readinessTiming } from '../../shared/http/health-route.ts';
import { createHttpApp } from '../../shared/http/http-app.ts';
import type { HttpApp } from '../../shared/http/http-app.ts';
import { jwksHandler } from '../../shared/http/jwks-route.ts';
import { tableProbe } from '../../shared/storage/table-probe.ts';
import { DynamoPeerTokenReplay } from '../adapters/dynamodb/dynamo-peer-token-replay.ts';
import { agentHandlers } from '../api/agent-handlers.ts';
import { capacityHandlers } from '../api/capacity-handlers.ts';
import { memoryHandlers } from '../api/memory-handlers.ts';
import { principalHandlers } from '../api/principal-handlers.ts';
import { maxCreateRunBytes, orchestratorRoutes } from '../api/run-api.ts';
import { runHandlers } from '../api/run-handlers.ts';
import { tenantAdminHandlers } from '../api/tenant-admin-handlers.ts';
import { toolHandlers } from '../api/tool-handlers.ts';
import { createEventIngest } from '../federation/event-ingest.ts';
import { federationConfigFromEnv } from '../federation/federation-config.ts';
import { forwardRoutes } from '../federation/forward-api.ts';
import { forwardHandlers } from '../federation/forward-handlers.ts';
import { ingestRoutes } from '../federation/ingest-api.ts';
import { ingestHandlers } from '../federation/ingest-handlers.ts';
import { peerAdminHandlers } from '../federation/peer-admin-handlers.ts';
import { peerRoutes } from '../federation/peer-api.ts';
import { peerHandlers } from '../federation/peer-handlers.ts';
import { createJwksCache, httpJwksFetcher } from '../federation/peer-jwks.ts';
import { createPeerTokenVerifier, peerVerifiedToken } from '../federation/peer-tokens.ts';
import { adminConfigFromEnv, streamTokenConfigFromEnv } from './orchestrator-config.ts';
import type { OrchestratorCore } from './orchestrator-core.ts';
import { streamingParts } from './orchestrator-events-http.ts';
import { runStopperOf } from './orchestrator-stopper.ts';
import { orchestratorStoresOf } from './orchestrator-stores.ts';

/**
 * The HTTP core of the Orchestrator's API function: every route of the Orchestrator API (run-api.ts)
 * and the Federation API's (HLD §7), the streaming ones included, which API Gateway sends to the
 * events function instead (see orchestrator-events-http.ts).
 */
export function orchestratorHttpApp(core: OrchestratorCore): HttpApp {
  const { env, config, telemetry, db, now, runs, agents, peers, peerFetcher } = core;
  const { toolRegistry, memory } = orchestratorStoresOf(core);
  const { service, reportFailure, federatedRuns, pusher, sink, pool, stepAge, runLimits, transport } = core;
  const { directory, admission } = core.tenancy;
  const federation = federationConfigFromEnv(config.tableName, env);
  // Peers' tokens (HLD §7.1): verified against each peer's published keys, each id used once.
  const peerTokens = createPeerTokenVerifier({
    nodeId: federation.nodeId,
    peers,
    replay: new DynamoPeerTokenReplay(db, config.tableName, { now }),
    // A peer behind mutual TLS serves its key set behind it too (HLD §7.1).
    jwks: createJwksCache({ fetch: httpJwksFetcher({ fetch: peerFetcher() }), now }),
    now,
  });
  const admin = adminConfigFromEnv(env);
  const streaming = streamingParts(core);
  const { streams, eventsUrl, signingIssuer } = streaming;
  return createHttpApp({
    service: 'agent-orchestrator',
    // The Federation API's discovery routes are served beside the runs API (HLD §7).
    routes: bindRoutes([...orchestratorRoutes, ...peerRoutes, ...forwardRoutes, ...ingestRoutes], {
      ...agentHandlers({ agents, tools: toolRegistry }),
      ...toolHandlers({ tools: toolRegistry }),
      ...runHandlers({
        service,
        ...streams,
        readiness: readinessHandler(
          'agent-orchestrator',
          { table: tableProbe(db, config.tableName) },
          { ...readinessTiming, reportFailure },
        ),
        jwks: jwksHandler(nodeJwksEnv.parse(env).AGENTOS_NODE_JWKS),
        eventsUrl,
        // Runs created with a `target` are forwarded to a peer and kept here (HLD §7.3).
        federatedRuns,
      }),
      ...streaming.handlers,
      ...memoryHandlers({ memory }),
      ...tenantAdminHandlers({
        directory,
        admission,
        runs,
        stopper: runStopperOf(core),
        now,
        operatorTenantId: admin.operatorTenantId,
      }),
      ...capacityHandlers({
        pool,
        nodeMaxConcurrentRuns: runLimits.nodeMaxConcurrentRuns,
        nodeCapacityMode: runLimits.nodeCapacityMode,
        queueDepth: async () => (await transport()).queueDepth(),
        stepAge,
        now,
        operatorTenantId: admin.operatorTenantId,
      }),
      ...peerAdminHandlers({ peers, now, operatorTenantId: admin.operatorTenantId }),
      ...forwardHandlers({
        service,
        runs,
        eventsUrl,
        nodeId: federation.nodeId,
        resendEvents: async (auth, runId) => {
          // The origin just called: it is reachable whatever failed moments ago.
          await pusher
            .push(auth, runId, 0, { ignoreBreaker: true })
            .catch((error: unknown) =>
              reportFailure('forwarded run events not replicated', error, { run_id: runId }),
            );
        },
      }),
      ...ingestHandlers({ ingest: createEventIngest({ runs, sink, reportFailure }) }),
      ...peerHandlers({
        federation,
        publicBaseUrl: streamTokenConfigFromEnv(env).publicBaseUrl,
        nodeMaxConcurrentRuns: runLimits.nodeMaxConcurrentRuns,
        trustedIssuers: jwtVerifierEnv
          .parse(env)
          .AGENTOS_TRUSTED_ISSUERS.map((entry) => entry.issuer)
          .filter((issuer) => /^https?:\/\//.test(issuer)),
      }),
      ...principalHandlers({
        directory,
        admission,
        issuer: signingIssuer,
        maxTokenLifetimeSeconds: admin.maxTokenLifetimeSeconds,
        now,
      }),
    }),
    verifier: jwtVerifierFromEnv(env),
    peerVerifier: { verifyToken: async (token) => peerVerifiedToken(await peerTokens.verify(token)) },
    cors: corsPolicyFromEnv(env),
    admission,
    operatorTenantId: admin.operatorTenantId,
    telemetry,
    maxBodyBytes: maxCreateRunBytes,
  });
}
