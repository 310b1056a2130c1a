import { createAdmission } from '../../shared/tenancy/admission.ts';
import { DynamoTenantDirectory } from '../../shared/tenancy/adapters/dynamo-tenant-directory.ts';
import { tenancyConfigFromEnv } from '../../shared/tenancy/tenancy-config.ts';
import { serviceSigningKeyFromEnv } from '../../shared/auth/auth-config.ts';
import { awsClientConfig } from '../../shared/aws/client-config.ts';
import type { EnvSource } from '../../shared/config/env.ts';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { createFailureReporter } from '../../shared/observability/failure-reporter.ts';
import { createTelemetry } from '../../shared/observability/telemetry.ts';
import { tracedClient } from '../../shared/aws/instrumented-clients.ts';
import { createDocumentClient } from '../../shared/storage/dynamo-client.ts';
import { DynamoAgentRegistry } from '../adapters/dynamodb/dynamo-agent-registry.ts';
import { DynamoRunStateStore } from '../adapters/dynamodb/dynamo-run-state.ts';
import { LogEventSink } from '../adapters/event-sink/log-event-sink.ts';
import { processRunSignals, signallingSink } from '../events/run-signals.ts';
import type { SqsStepQueue } from '../adapters/sqs/sqs-step-queue.ts';
import type { RunDriverPort } from '../ports/run-driver-port.ts';
import type { RunTransport } from './run-transport.ts';
import type * as runTransportModule from './run-transport.ts';
import type * as stepToolsModule from './step-tools.ts';
import { federationConfigFromEnv } from '../federation/federation-config.ts';
import { newTraceparent, replicatingSink } from '../federation/event-pusher.ts';
import type { EventPusher } from '../federation/event-pusher.ts';
import type { FederatedRuns } from '../federation/federated-runs.ts';
import { outgoingTraceparent } from '../../shared/observability/trace-context.ts';
import { withEventNodeIds } from '../federation/event-node.ts';
import { ConfigurationError } from '../../shared/errors/agentos-error.ts';
import { peerFetchFromEnv } from '../federation/peer-fetch.ts';
import type { PeerTokenIssuer } from '../federation/peer-tokens.ts';
import type { SigningJwk } from '../../shared/auth/token-issuer.ts';
import { DynamoPeerRegistry } from '../adapters/dynamodb/dynamo-peer-registry.ts';
import { createRunService } from '../runtime/run-service.ts';
import { newRunId } from '../runtime/run-id.ts';
import { createRunSlots } from '../runtime/run-slots.ts';
import { DynamoRateLimiter } from '../../shared/limits/adapters/dynamo-rate-limiter.ts';
import { DynamoSlotPool } from '../../shared/limits/adapters/dynamo-slot-pool.ts';
import { DynamoStepAge } from '../adapters/dynamodb/dynamo-step-age.ts';
import {
  modelTimeoutMsFromEnv,
  nodeRunLimitsFromEnv,
  orchestratorConfigFromEnv,
} from './orchestrator-config.ts';
import { lazyModule } from './lazy-module.ts';
import type * as federationRuntime from './federation-runtime.ts';

type FederationRuntime = typeof federationRuntime;

type RunTransportModule = typeof runTransportModule;
type StepToolsModule = typeof stepToolsModule;

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
 * The parts of the Orchestrator's composition root (HLD §2.1) that every function shares: its
 * configuration, telemetry, stores, run transport and run service. The functions' own parts are
 * built from it in modules of their own (orchestrator-http.ts, orchestrator-events-http.ts,
 * orchestrator-step-worker.ts), so each entry loads only what it serves.
 */
export function composeOrchestratorCore(
  env: EnvSource = process.env,
  options: ComposeOrchestratorOptions = {},
) {
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
  // One transport per instance, even when a batch's records first need it at once.
  const transport = lazyModule(undefined, async (): Promise<RunTransport> =>
    (await transportModule()).createRunTransport(transportSettings),
  );
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
  // The forwarding and pushing side of federation (HLD §7.3, §7.4), imported on the first event
  // committed or run forwarded (the sink asks the pusher whether a run was forwarded here): the
  // events function, which mostly reads, seldom needs it.
  const federationModule = lazyModule(undefined, () => import('./federation-runtime.ts'));
  // Read on first use: a node that never federates needs no node id or signing key to serve runs.
  let peerIssuer: PeerTokenIssuer | undefined;
  const peerTokenIssuer = (module: FederationRuntime): PeerTokenIssuer =>
    (peerIssuer ??= module.createPeerTokenIssuer({
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
    push: (auth, runId, after, pushOptions) => {
      if (created !== undefined) return created.push(auth, runId, after, pushOptions);
      // The settings are read before the import, so that they fail as they always did: at once.
      const nodeId = federationConfigFromEnv(config.tableName, env).nodeId;
      const fetch = peerFetcher();
      return federationModule().then((module) =>
        (created ??= module.createEventPusher({
          nodeId,
          runs,
          peers,
          issuer: peerTokenIssuer(module),
          reportFailure,
          fetch,
        })).push(auth, runId, after, pushOptions),
      );
    },
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
  const federated = async (): Promise<FederatedRuns> => {
    if (forwarded !== undefined) return forwarded;
    const federation = federationConfigFromEnv(config.tableName, env);
    const fetch = peerFetcher();
    const module = await federationModule();
    return (forwarded ??= module.createFederatedRuns({
      runs,
      sink,
      forwarder: module.createRunForwarder({
        nodeId: federation.nodeId,
        peers,
        issuer: peerTokenIssuer(module),
        fetch,
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
  const federatedRuns = {
    place: async (...args) => (await federated()).place(...args),
    createRun: async (...args) => (await federated()).createRun(...args),
    cancelRemote: async (...args) => (await federated()).cancelRemote(...args),
  } satisfies FederatedRuns;
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
      federatedRuns.cancelRemote(auth, run, outgoingTraceparent() ?? newTraceparent()),
  });
  return {
    env,
    config,
    telemetry,
    /** The node's tenant directory and the admission that caches it. */
    tenancy: { directory, admission },
    db,
    now,
    runs,
    agents,
    transportSettings,
    /** The SQS and Step Functions adapters, imported on first use unless the entry passed them. */
    transport,
    queue,
    driver,
    sink,
    reportFailure,
    peers,
    peerFetcher,
    pusher,
    federatedRuns,
    limiter,
    pool,
    stepAge,
    runLimits,
    runSlots,
    service,
    stepToolsModule,
  };
}

/** The parts every Orchestrator function is built on, as {@link composeOrchestratorCore} returns them. */
export type OrchestratorCore = ReturnType<typeof composeOrchestratorCore>;
