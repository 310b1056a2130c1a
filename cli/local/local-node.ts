import { optionalEnv } from '../../functions/shared/config/env.ts';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { JSONWebKeySet } from 'jose';
import type { SigningJwk } from '../../functions/shared/auth/token-issuer.ts';
import type { ProvisionedResources } from '../../infra/local/provision-emulator.ts';
import { apiRoutes, functionDefinitions, stepQueueDefinition } from '../../infra/resources/definitions.ts';
import {
  modelPolicyEnv,
  prepareModelPolicyEnv,
  settlementWorkerEnv,
} from '../../functions/model-policy/composition/model-policy-config.ts';
import {
  orchestratorHttpEnv,
  stepWorkerEnv,
} from '../../functions/orchestrator/composition/orchestrator-config.ts';
import type { FunctionName } from '../../infra/resources/definitions.ts';
import { corsEnv } from '../../functions/shared/http/cors.ts';
import { freePort } from './emulator.ts';
import { startHttpFront } from './lambda-http-front.ts';
import { localMetricsRegistry } from '../../functions/shared/observability/local-metrics.ts';
import { otlpTracingEnv } from '../../functions/shared/observability/otlp-tracing.ts';
import { telemetryEnv } from '../../functions/shared/observability/telemetry-env.ts';
import type { HttpFront, LocalRoute } from './lambda-http-front.ts';
import { installInvokeStore, installLambdaRuntimeShim } from './lambda-runtime-shim.ts';
import { projectRoot } from './project-paths.ts';
import { startQueueSampler } from './queue-sampler.ts';
import type { QueueSampler } from './queue-sampler.ts';
import { startSqsPoller } from './sqs-poller.ts';
import { startLocalDashboard } from './dashboard/local-dashboard.ts';
import type { SqsPoller } from './sqs-poller.ts';

/** Everything a local node needs to start. */
export type LocalNodeSettings = {
  nodeId: string;
  host: string;
  /** 0 picks a free port. */
  orchestratorPort: number;
  modelPolicyPort: number;
  awsEndpoint: string;
  region: string;
  resources: ProvisionedResources;
  jwt: { issuer: string; audience: string; jwks: JSONWebKeySet; serviceSigningKey: SigningJwk };
  /** Web origins whose pages may call the node's APIs (CORS); absent or empty, CORS is off. */
  cors?: { allowedOrigins: string[]; allowCredentials: boolean };
  /** Extra environment for the functions (model catalog, tenant policy defaults, timings…). */
  functionEnv?: Record<string, string>;
  pollerConcurrency?: number;
  /** How often the node's dashboard takes a point (default 5 s). */
  dashboardPeriodMs?: number;
};

/** A running local node. */
export type LocalNode = {
  nodeId: string;
  orchestratorUrl: string;
  modelPolicyUrl: string;
  stop(): Promise<void>;
};

/** How often a local stream reads its run when no commit of this process signalled it. */
export const localSseIdlePollMs = 2_000;

/**
 * The environment the Lambda functions of a node see, as the CDK stack would set it: one process
 * hosts every function, so it gets the union of their contracts, checked against each before use.
 */
export async function functionEnvironment(
  settings: LocalNodeSettings,
  modelPolicyUrl: string,
  orchestratorUrl: string,
): Promise<Record<string, string>> {
  const environment = {
    ...orchestratorHttpEnv.render({
      AGENTOS_TABLE_NAME: settings.resources.tableName,
      AGENTOS_STEP_QUEUE_URL: settings.resources.stepQueueUrl,
      AGENTOS_DEADLINE_QUEUE_URL: settings.resources.deadlineQueueUrl,
      AGENTOS_STATE_MACHINE_ARN: settings.resources.stateMachineArn,
      AGENTOS_LONG_RUN_STATE_MACHINE_ARN: settings.resources.longRunStateMachineArn,
      // A local node is its own identity provider: one issuer signs users' and service tokens.
      AGENTOS_TRUSTED_ISSUERS: JSON.stringify([{ issuer: settings.jwt.issuer, jwks: settings.jwt.jwks }]),
      AGENTOS_JWT_AUDIENCE: settings.jwt.audience,
      AGENTOS_NODE_JWKS: JSON.stringify(settings.jwt.jwks),
      AGENTOS_AWS_ENDPOINT: settings.awsEndpoint,
      AWS_REGION: settings.region,
      // Runs' events URLs are absolute: a browser opens them as they are.
      AGENTOS_PUBLIC_API_URL: orchestratorUrl,
      // Every commit in this process hands its events to the streams following its run (run-signals.ts):
      // the idle poll only finds writes made elsewhere (the CLI on the table, a restarted process).
      AGENTOS_SSE_POLL_MAX_MS: String(localSseIdlePollMs),
    }),
    ...stepWorkerEnv.render({
      AGENTOS_MODEL_POLICY_URL: modelPolicyUrl,
      AGENTOS_NODE_ISSUER: settings.jwt.issuer,
      AGENTOS_SERVICE_SIGNING_KEY: JSON.stringify(settings.jwt.serviceSigningKey),
      AGENTOS_STEP_MAX_RECEIVES: String(stepQueueDefinition.maxReceiveCount),
    }),
    // Settlements the table keeps refusing go to the settlement queue, as on AWS (HLD §5.3).
    ...modelPolicyEnv.render({ AGENTOS_SETTLEMENT_QUEUE_URL: settings.resources.settlementQueueUrl }),
    ...corsEnv.render(
      settings.cors === undefined || settings.cors.allowedOrigins.length === 0
        ? {}
        : {
            AGENTOS_CORS_ALLOWED_ORIGINS: settings.cors.allowedOrigins.join(','),
            AGENTOS_CORS_ALLOW_CREDENTIALS: String(settings.cors.allowCredentials),
          },
    ),
    AWS_ACCESS_KEY_ID: optionalEnv('AWS_ACCESS_KEY_ID', 'test'),
    AWS_SECRET_ACCESS_KEY: optionalEnv('AWS_SECRET_ACCESS_KEY', 'test'),
    ...telemetryEnv.render({ AGENTOS_NODE_ID: settings.nodeId }),
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: optionalEnv('POWERTOOLS_LOG_LEVEL', 'INFO'),
    ...settings.functionEnv,
  };
  // A bad override fails here, naming the variable, rather than in the first request.
  await prepareModelPolicyEnv(environment);
  for (const contract of [
    orchestratorHttpEnv,
    stepWorkerEnv,
    modelPolicyEnv,
    settlementWorkerEnv,
    otlpTracingEnv,
  ])
    contract.parse(environment);
  return environment;
}

async function loadHandler(name: FunctionName): Promise<unknown> {
  const module = (await import(`${projectRoot}/${functionDefinitions[name].entry}`)) as { handler?: unknown };
  if (module.handler === undefined) throw new Error(`${functionDefinitions[name].entry} exports no handler`);
  return module.handler;
}

async function routesFor(api: keyof typeof apiRoutes): Promise<LocalRoute[]> {
  return Promise.all(
    apiRoutes[api].map(async (route) => ({
      resource: route.resource,
      method: route.method,
      functionName: route.function,
      timeoutSeconds: functionDefinitions[route.function].timeoutSeconds,
      handler: await loadHandler(route.function),
    })),
  );
}

/**
 * Runs a node's Lambda handlers from this checkout's source on localhost against the emulator: the
 * Orchestrator and Model Policy REST APIs on their own ports, and the SQS event source mappings of
 * the step worker (on the step and deadline queues) and of the settlement worker (on the settlement
 * queue). Handlers read their settings from `process.env` at import, like in Lambda, so
 * one process hosts one node. The tests and benchmarks start nodes this way in their own process,
 * on resources infra/local/provision-emulator.ts creates; `agentos up --local` instead deploys the
 * node stack and runs what was deployed (cli/aws/artifact-host.ts).
 */
export async function startLocalNode(settings: LocalNodeSettings): Promise<LocalNode> {
  const modelPolicyPort = settings.modelPolicyPort === 0 ? await freePort() : settings.modelPolicyPort;
  const orchestratorPort = settings.orchestratorPort === 0 ? await freePort() : settings.orchestratorPort;
  const modelPolicyUrl = `http://${settings.host}:${modelPolicyPort}`;
  Object.assign(
    process.env,
    await functionEnvironment(settings, modelPolicyUrl, `http://${settings.host}:${orchestratorPort}`),
  );
  installLambdaRuntimeShim();
  installInvokeStore();
  const fronts: HttpFront[] = [];
  let poller: SqsPoller | undefined;
  let deadlinePoller: SqsPoller | undefined;
  let settlementPoller: SqsPoller | undefined;
  const dashboard = startLocalDashboard({
    nodeId: settings.nodeId,
    aws: { region: settings.region, endpoint: settings.awsEndpoint, maxAttempts: 2 },
    stepQueueUrl: settings.resources.stepQueueUrl,
    deadLetterQueueUrls: [
      settings.resources.stepDeadLetterQueueUrl,
      settings.resources.settlementDeadLetterQueueUrl,
    ],
    periodMs: settings.dashboardPeriodMs,
  });
  const pages = { localPages: dashboard.localPages, observe: dashboard.observe };
  let sampler: QueueSampler | undefined;
  try {
    fronts.push(
      await startHttpFront({
        routes: await routesFor('modelPolicy'),
        port: modelPolicyPort,
        host: settings.host,
        metricsRegistry: localMetricsRegistry,
        ...pages,
      }),
    );
    dashboard.addFront('model_policy', fronts[0]!);
    fronts.push(
      await startHttpFront({
        routes: await routesFor('orchestrator'),
        port: orchestratorPort,
        host: settings.host,
        metricsRegistry: localMetricsRegistry,
        ...pages,
      }),
    );
    dashboard.addFront('orchestrator', fronts[1]!);
    type QueueHandler = (event: SQSEvent, context: unknown) => Promise<SQSBatchResponse>;
    const handlers = {
      stepWorker: (await loadHandler('stepWorker')) as QueueHandler,
      settlementWorker: (await loadHandler('settlementWorker')) as QueueHandler,
    };
    /** A Lambda event source mapping of `queue` onto the function that consumes it. */
    const pollQueue = (
      queue: 'step' | 'deadline' | 'settlement',
      functionName: keyof typeof handlers,
      concurrency: number,
    ) =>
      startSqsPoller({
        aws: { region: settings.region, endpoint: settings.awsEndpoint, maxAttempts: 3 },
        queueUrl: settings.resources[`${queue}QueueUrl`],
        queueArn: settings.resources[`${queue}QueueArn`],
        functionName,
        timeoutSeconds: functionDefinitions[functionName].timeoutSeconds,
        handler: handlers[functionName],
        batchSize: functionDefinitions[functionName].batchSize,
        concurrency,
        onError: (error) =>
          console.error(`${queue} poller error`, error instanceof Error ? error.message : error),
      });
    // The step worker's two event sources (HLD §4.3): its steps, and runs' deadlines due as their
    // delay passes, which need no more than one message at a time.
    poller = pollQueue('step', 'stepWorker', settings.pollerConcurrency ?? 4);
    deadlinePoller = pollQueue('deadline', 'stepWorker', 1);
    // The settlement worker's event source (HLD §5.3): settlements queue up only while the table
    // refuses them, so one batch at a time keeps up.
    settlementPoller = pollQueue('settlement', 'settlementWorker', 1);
    const stepPoller = poller;
    // The queues' gauges on GET /metrics, which SQS's own metrics give on AWS (HLD §9.1).
    sampler = startQueueSampler({
      aws: { region: settings.region, endpoint: settings.awsEndpoint, maxAttempts: 1 },
      stepQueueUrl: settings.resources.stepQueueUrl,
      deadLetterQueueUrls: [
        settings.resources.stepDeadLetterQueueUrl,
        settings.resources.settlementDeadLetterQueueUrl,
      ],
      oldestStepAgeMs: () => stepPoller.oldestHeldAgeMs(),
      onError: (error) =>
        console.error('queue sampler error', error instanceof Error ? error.message : error),
    });
  } catch (error) {
    await Promise.allSettled(fronts.map((front) => front.close()));
    await poller?.stop();
    await deadlinePoller?.stop();
    await settlementPoller?.stop();
    await dashboard.stop();
    throw error;
  }
  const [modelPolicyFront, orchestratorFront] = fronts as [HttpFront, HttpFront];
  return {
    nodeId: settings.nodeId,
    orchestratorUrl: orchestratorFront.url,
    modelPolicyUrl: modelPolicyFront.url,
    async stop() {
      sampler?.stop();
      await Promise.all([poller?.stop(), deadlinePoller?.stop(), settlementPoller?.stop()]);
      await Promise.allSettled(fronts.map((front) => front.close()));
      await dashboard.stop();
    },
  };
}
