import { createAdmission } from '../../shared/tenancy/admission.ts';
import { DynamoTenantDirectory } from '../../shared/tenancy/adapters/dynamo-tenant-directory.ts';
import { tenancyConfigFromEnv } from '../../shared/tenancy/tenancy-config.ts';
import {
  jwtVerifierEnv,
  jwtVerifierFromEnv,
  nodeJwksEnv,
  serviceSigningKeyFromEnv,
  serviceTokenIssuerFromEnv,
} from '../../shared/auth/auth-config.ts';
import { jwksHandler } from '../../shared/http/jwks-route.ts';
import { awsClientConfig } from '../../shared/aws/client-config.ts';
import type { EnvSource } from '../../shared/config/env.ts';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { readinessHandler, readinessTiming } from '../../shared/http/health-route.ts';
import { createFailureReporter } from '../../shared/observability/failure-reporter.ts';
import { tableProbe } from '../../shared/storage/table-probe.ts';
import { createTelemetry } from '../../shared/observability/telemetry.ts';
import { tracedClient } from '../../shared/aws/instrumented-clients.ts';
import { createDocumentClient } from '../../shared/storage/dynamo-client.ts';
import { DynamoAgentRegistry } from '../adapters/dynamodb/dynamo-agent-registry.ts';
import { DynamoToolRegistry } from '../adapters/dynamodb/dynamo-tool-registry.ts';
import { DynamoRunStateStore } from '../adapters/dynamodb/dynamo-run-state.ts';
import { DynamoMemoryStore } from '../adapters/memory/dynamo-memory-store.ts';
import { LogEventSink } from '../adapters/event-sink/log-event-sink.ts';
import { processRunSignals, signallingSink } from '../events/run-signals.ts';
import { ModelPolicyClient } from '../adapters/model-policy/model-policy-client.ts';
import type { SqsStepQueue } from '../adapters/sqs/sqs-step-queue.ts';
import type { RunDriverPort } from '../ports/run-driver-port.ts';
import type { ToolPort } from '../ports/tool-port.ts';
import type { RunTransport } from './run-transport.ts';
import type * as runTransportModule from './run-transport.ts';
import type * as stepToolsModule from './step-tools.ts';
import { AllowedHosts } from '../../shared/net/address-policy.ts';
import { createSafeFetch } from '../../shared/net/safe-fetch.ts';
import { maxCreateRunBytes, orchestratorRoutes } from '../api/run-api.ts';
import { peerRoutes } from '../federation/peer-api.ts';
import { peerHandlers } from '../federation/peer-handlers.ts';
import { federationConfigFromEnv } from '../federation/federation-config.ts';
import { peerAdminHandlers } from '../federation/peer-admin-handlers.ts';
import { forwardRoutes } from '../federation/forward-api.ts';
import { forwardHandlers } from '../federation/forward-handlers.ts';
import { ingestRoutes } from '../federation/ingest-api.ts';
import { ingestHandlers } from '../federation/ingest-handlers.ts';
import { createEventIngest } from '../federation/event-ingest.ts';
import { createEventPusher, newTraceparent, replicatingSink } from '../federation/event-pusher.ts';
import type { EventPusher } from '../federation/event-pusher.ts';
import { createFederatedRuns } from '../federation/federated-runs.ts';
import type { FederatedRuns } from '../federation/federated-runs.ts';
import { outgoingTraceparent } from '../../shared/observability/trace-context.ts';
import { withEventNodeIds } from '../federation/event-node.ts';
import { ConfigurationError } from '../../shared/errors/agentos-error.ts';
import { createRunForwarder } from '../federation/run-forwarder.ts';
import { peerFetchFromEnv } from '../federation/peer-fetch.ts';
import { createPeerTokenIssuer } from '../federation/peer-tokens.ts';
import type { PeerTokenIssuer } from '../federation/peer-tokens.ts';
import type { SigningJwk } from '../../shared/auth/token-issuer.ts';
import { createPeerTokenVerifier, peerVerifiedToken } from '../federation/peer-tokens.ts';
import { createJwksCache, httpJwksFetcher } from '../federation/peer-jwks.ts';
import { DynamoPeerTokenReplay } from '../adapters/dynamodb/dynamo-peer-token-replay.ts';
import { DynamoPeerRegistry } from '../adapters/dynamodb/dynamo-peer-registry.ts';
import { memoryHandlers } from '../api/memory-handlers.ts';
import { runHandlers } from '../api/run-handlers.ts';
import { agentHandlers } from '../api/agent-handlers.ts';
import { toolHandlers } from '../api/tool-handlers.ts';
import { tenantAdminHandlers } from '../api/tenant-admin-handlers.ts';
import { capacityHandlers } from '../api/capacity-handlers.ts';
import { principalHandlers } from '../api/principal-handlers.ts';
import { a2aHandlers } from '../api/a2a-handlers.ts';
import { backgroundResponseHandlers } from '../api/background-response-handlers.ts';
import { createRunStopper } from '../runtime/run-stopper.ts';
import type { DetachedSigner, IdentifyingTokenIssuer } from '../../shared/auth/token-issuer.ts';
import { createRunService, toRunView } from '../runtime/run-service.ts';
import { newRunId } from '../runtime/run-id.ts';
import { createStepEngine } from '../runtime/step-engine.ts';
import { createRunSlots } from '../runtime/run-slots.ts';
import { createStreamSlots } from '../events/stream-slots.ts';
import { DynamoRateLimiter } from '../../shared/limits/adapters/dynamo-rate-limiter.ts';
import { DynamoSlotPool } from '../../shared/limits/adapters/dynamo-slot-pool.ts';
import { DynamoStepAge } from '../adapters/dynamodb/dynamo-step-age.ts';
import {
  adminConfigFromEnv,
  eventStreamTimingFromEnv,
  modelTimeoutMsFromEnv,
  nodeRunLimitsFromEnv,
  orchestratorConfigFromEnv,
  stepWorkerConfigFromEnv,
  streamLimitsFromEnv,
  streamTokenConfigFromEnv,
} from './orchestrator-config.ts';
import { createEventsUrlMinter } from '../events/stream-token.ts';
import { RunEventHub } from '../events/run-event-hub.ts';
import { bindRoutes } from '../../shared/http/bound-route.ts';
import { corsPolicyFromEnv } from '../../shared/http/cors.ts';
import { createHttpApp } from '../../shared/http/http-app.ts';

type RunTransportModule = typeof runTransportModule;
type StepToolsModule = typeof stepToolsModule;

/**
 * Resolves to `given`, or imports the module on first call; a failed import is retried on the next
 * call instead of being remembered.
 */
function lazyModule<M>(given: M | undefined, load: () => Promise<M>): () => Promise<M> {
  let loading: Promise<M> | undefined = given === undefined ? undefined : Promise.resolve(given);
  return () =>
    (loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    }));
}

/** How the composition root gets the SQS, Step Functions and Secrets Manager adapters. */
export type ComposeOrchestratorOptions = {
  /**
   * The run transport module, for an entry that loads it at init; without it, the module is
   * imported on the first call that needs it (the events function's case).
   */
  runTransport?: RunTransportModule;
  /** The step worker's tool catalog module, likewise; imported on the first tool use without it. */
  stepTools?: StepToolsModule;
};

/**
 * The Orchestrator's composition root: the one place that picks adapters for its ports. Each Lambda
 * entry point takes the part it needs.
 */
export function composeOrchestrator(env: EnvSource = process.env, options: ComposeOrchestratorOptions = {}) {
  const config = orchestratorConfigFromEnv(env);
  const telemetry = createTelemetry('agent-orchestrator', env);
  const aws = awsClientConfig(env);
  // On AWS every SDK call is a subsegment of the invocation's trace (HLD §9.1).
  const traced = <T>(client: T): T => tracedClient(client, telemetry.tracer);
  const db = createDocumentClient(aws, {
    tracer: telemetry.tracer,
    onStorageRefusal: () => telemetry.metrics.addMetric('StorageThrottles', MetricUnit.Count, 1),
  });
  // One clock for every part that stamps or ages something.
  const now = () => new Date();
  // Every event read names the node that produced it (HLD §7.4); a node with no id names none.
  const runs = withEventNodeIds(new DynamoRunStateStore(db, config.tableName, { now }), () => {
    try {
      return federationConfigFromEnv(config.tableName, env).nodeId;
    } catch (error) {
      if (error instanceof ConfigurationError) return undefined;
      throw error;
    }
  });
  const agents = new DynamoAgentRegistry(db, config.tableName, { now });
  const toolRegistry = new DynamoToolRegistry(db, config.tableName, { now });
  const memory = new DynamoMemoryStore(db, config.tableName, { now });
  const transportSettings = {
    aws,
    stepQueueUrl: config.stepQueueUrl,
    deadlineQueueUrl: config.deadlineQueueUrl,
    stateMachineArn: config.stateMachineArn,
    longRunStateMachineArn: config.longRunStateMachineArn,
    longRunHeartbeatSeconds: config.longRunHeartbeatSeconds,
    traced,
  };
  const transportModule = lazyModule(options.runTransport, () => import('./run-transport.ts'));
  const stepToolsModule = lazyModule(options.stepTools, () => import('./step-tools.ts'));
  let built: RunTransport | undefined;
  const transport = async () => (built ??= (await transportModule()).createRunTransport(transportSettings));
  const queue = {
    enqueueStep: async (...args) => (await transport()).queue.enqueueStep(...args),
    enqueueRunStop: async (...args) => (await transport()).queue.enqueueRunStop(...args),
    scheduleDeadline: async (...args) => (await transport()).queue.scheduleDeadline(...args),
  } satisfies Pick<SqsStepQueue, keyof SqsStepQueue>;
  const driver = {
    start: async (...args) => (await transport()).driver.start(...args),
    stop: async (...args) => (await transport()).driver.stop(...args),
    heartbeat: async (...args) => (await transport()).driver.heartbeat(...args),
    succeed: async (...args) => (await transport()).driver.succeed(...args),
    fail: async (...args) => (await transport()).driver.fail(...args),
  } satisfies RunDriverPort;
  const reportFailure = createFailureReporter(telemetry.logger, (name, value) =>
    telemetry.metrics.addMetric(name, MetricUnit.Count, value),
  );
  // The node's trusted federation peers (HLD §7.1), node-level records of the node's table.
  const peers = new DynamoPeerRegistry(db, config.tableName);
  // Read on first use: a node that never federates needs no node id or signing key to serve runs.
  let peerIssuer: PeerTokenIssuer | undefined;
  const peerTokenIssuer = (): PeerTokenIssuer =>
    (peerIssuer ??= createPeerTokenIssuer({
      nodeId: federationConfigFromEnv(config.tableName, env).nodeId,
      // Signed with the node's key, which its JWKS publishes (HLD §7.1).
      key: async (): Promise<SigningJwk> => {
        const key = serviceSigningKeyFromEnv(env);
        return typeof key === 'function' ? key() : key;
      },
    }));
  // Forwards and event pushes present the node's client certificate when one is configured (HLD §7.1).
  let peerFetch: typeof fetch | undefined;
  const peerFetcher = () => (peerFetch ??= peerFetchFromEnv(env));
  let created: EventPusher | undefined;
  const pusher: EventPusher = {
    push: (auth, runId, after, pushOptions) =>
      (created ??= createEventPusher({
        nodeId: federationConfigFromEnv(config.tableName, env).nodeId,
        runs,
        peers,
        issuer: peerTokenIssuer(),
        reportFailure,
        fetch: peerFetcher(),
      })).push(auth, runId, after, pushOptions),
  };
  // A forwarded run's events go back to the node it came from as they are committed (HLD §7.4).
  // Streams this process serves hear of its commits at once (one process hosts every function on
  // the local node; in Lambda the signals reach no stream and streams poll).
  const sink = signallingSink(
    replicatingSink(
      new LogEventSink(telemetry.logger, (name, value) =>
        telemetry.metrics.addMetric(name, MetricUnit.Count, value),
      ),
      pusher,
      reportFailure,
    ),
    processRunSignals,
  );
  // Runs forwarded to a peer (HLD §7.3), built on first use like the pusher: a node that never
  // federates needs no node id to serve its own runs.
  let forwarded: FederatedRuns | undefined;
  const federatedRuns = (): FederatedRuns => {
    if (forwarded !== undefined) return forwarded;
    const federation = federationConfigFromEnv(config.tableName, env);
    return (forwarded = createFederatedRuns({
      runs,
      forwarder: createRunForwarder({
        nodeId: federation.nodeId,
        peers,
        issuer: peerTokenIssuer(),
        fetch: peerFetcher(),
      }),
      peers,
      nodeId: federation.nodeId,
      localTiers: federation.models.tiers.map((tier) => tier.name),
      reportFailure,
      countRemoteCancelFailure: () => telemetry.metrics.addMetric('RemoteCancelsFailed', MetricUnit.Count, 1),
      now,
      newRunId: () => newRunId(),
      idempotencyTtlSeconds: config.idempotencyTtlSeconds,
    }));
  };
  // Ingress admission and the step worker read tenants through one cache (HLD §5.2).
  const directory = new DynamoTenantDirectory(db, config.tableName, { now });
  const admission = createAdmission(directory, {
    cacheSeconds: tenancyConfigFromEnv(env).tenantCacheSeconds,
    now,
    reportFailure,
  });
  // Tenant and node limits (HLD §5.2, §10.2), on the node's table with conditional writes.
  const limiter = new DynamoRateLimiter(db, config.tableName);
  const pool = new DynamoSlotPool(db, config.tableName);
  const stepAge = new DynamoStepAge(db, config.tableName);
  const runLimits = nodeRunLimitsFromEnv(env);
  const runSlots = createRunSlots({
    pool,
    nodeMaxConcurrentRuns: runLimits.nodeMaxConcurrentRuns,
    leaseSeconds: runLimits.runSlotLeaseSeconds,
    // A step can outlast its step timeout by its model call: the renewal skip must cover both.
    modelTimeoutSeconds: modelTimeoutMsFromEnv(env) / 1000,
  });
  const service = createRunService({
    runs,
    queue,
    driver,
    agents,
    sink,
    reportFailure,
    now,
    newRunId: () => newRunId(),
    idempotencyTtlSeconds: config.idempotencyTtlSeconds,
    limits: { limiter, slots: runSlots, nodeCapacityMode: runLimits.nodeCapacityMode },
    // The client's cancel of a forwarded run reaches the peer that runs it (HLD §7.3).
    cancelForwarded: (auth, run) =>
      federatedRuns().cancelRemote(auth, run, outgoingTraceparent() ?? newTraceparent()),
  });
  // The operator kill switch (HLD §10.2): a request stops a page of runs, the step worker the rest.
  const stopper = createRunStopper({
    runs,
    driver,
    sink,
    reportFailure,
    now,
    // An operator's stop frees the run's slots at once, as every terminal state does.
    onStopped: async (tenantId, runId) => {
      await runSlots.release(tenantId, runId);
    },
    // A stopped run that runs on a peer is canceled there too (HLD §7.3).
    cancelForwarded: async (auth, run) => {
      await federatedRuns().cancelRemote(auth, toRunView(run), outgoingTraceparent() ?? newTraceparent());
    },
    audit: (message, record) => telemetry.logger.info(message, { audit: record }),
    continuation: queue,
  });
  return {
    config,
    telemetry,
    /** The node's tenant directory and the admission that caches it. */
    tenancy: { directory, admission },
    /** The HTTP core of both Orchestrator functions; API Gateway sends each path to one of them. */
    httpApp: () => {
      const timing = eventStreamTimingFromEnv(env);
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
      // Only token issuance (principals' and stream tokens) needs the node's signing key: read on first use.
      let issuer: (IdentifyingTokenIssuer & DetachedSigner) | undefined;
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
      // Signed with the node's key, like the principals' tokens (HLD §3.3).
      const eventsUrl = createEventsUrlMinter({
        issuer: () => (issuer ??= serviceTokenIssuerFromEnv(env)),
        ...streamTokenConfigFromEnv(env),
      });
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
            federatedRuns: federatedRuns(),
          }),
          ...backgroundResponseHandlers({ service, ...streams, eventsUrl }),
          ...a2aHandlers({
            service,
            agents,
            ...streams,
            publicBaseUrl: streamTokenConfigFromEnv(env).publicBaseUrl,
            // Cards are signed with the node's key, the one its JWKS publishes (HLD §3.3).
            signCard: (payload, header) =>
              (issuer ??= serviceTokenIssuerFromEnv(env)).signDetached(payload, header),
          }),
          ...memoryHandlers({ memory }),
          ...tenantAdminHandlers({
            directory,
            admission,
            runs,
            stopper,
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
            issuer: () => (issuer ??= serviceTokenIssuerFromEnv(env)),
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
    },
    /**
     * The step worker's parts: its settings, the engine, the redelivery backoff of retried steps, and
     * the driver whose step tasks it answers.
     */
    stepWorker: () => {
      const worker = stepWorkerConfigFromEnv(env);
      // Built on the first step that needs a tool: one catalog, so its bounded caches are shared.
      const catalog = lazyModule(undefined, async () =>
        (await stepToolsModule()).createToolCatalog(transportSettings, {
          // The tenants' HTTP tools come from the tool registry of the tools API (HLD §3.1).
          registry: toolRegistry,
          memory: memory,
          fetch: createSafeFetch({ allowedHosts: new AllowedHosts(worker.toolAllowedHosts) }),
          secretPrefix: worker.toolSecretPrefix,
        }),
      );
      const tools = {
        describe: async (...args) => (await catalog()).describe(...args),
        invoke: async (...args) => (await catalog()).invoke(...args),
      } satisfies ToolPort;
      const engine = createStepEngine({
        runs,
        queue,
        driver,
        agents,
        sink,
        tools,
        models: new ModelPolicyClient({
          baseUrl: worker.modelPolicyUrl,
          issuer: serviceTokenIssuerFromEnv(env),
          timeoutMs: worker.modelTimeoutMs,
          actor: 'agent-orchestrator',
        }),
        reportFailure,
        now,
        warn: (message, context) => telemetry.logger.warn(message, context),
        limits: { admission, slots: runSlots, limiter },
      });
      const redeliverAfter = async (
        receiptHandle: string,
        attempt: number,
        seconds?: number,
        queueArn?: string,
      ) => {
        const { backoff, redeliveryDelaySeconds } = await transport();
        return backoff.redeliverAfter(
          receiptHandle,
          Math.min(worker.stepRetryMaxDelaySeconds, seconds ?? redeliveryDelaySeconds(attempt)),
          queueArn,
        );
      };
      return { config: worker, engine, redeliverAfter, driver, reportFailure, stepAge, stopper };
    },
  };
}
