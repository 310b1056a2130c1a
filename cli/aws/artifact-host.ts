import { performance } from 'node:perf_hooks';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SNSEvent, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { FunctionName } from '../../infra/resources/definitions.ts';
import { freePort } from '../local/emulator.ts';
import { accessLogLine, startHttpFront } from '../local/lambda-http-front.ts';
import { localMetricsRegistry } from '../../functions/shared/observability/local-metrics.ts';
import { otlpTracingEnv } from '../../functions/shared/observability/otlp-tracing.ts';
import type { HttpFront, LocalRoute, ServedRequest } from '../local/lambda-http-front.ts';
import { startLocalDashboard } from '../local/dashboard/local-dashboard.ts';
import {
  installInvokeStore,
  installLambdaRuntimeShim,
  isStreamingHandler,
} from '../local/lambda-runtime-shim.ts';
import { startSqsPoller } from '../local/sqs-poller.ts';
import type { SqsPoller } from '../local/sqs-poller.ts';
import { startQueueSampler } from '../local/queue-sampler.ts';
import type { QueueSampler } from '../local/queue-sampler.ts';
import { InFlightJournal, releaseMessages } from '../local/in-flight-journal.ts';
import { readDeployedArtifacts } from './deployed-artifacts.ts';
import type { DeployedArtifacts, DeployedArtifactsSettings } from './deployed-artifacts.ts';
import { deployedClientConfig } from './deployed-aws.ts';
import { runtimeEnvironment, sharedEnvironment } from './deployed-environment.ts';
import type { KeptVariable, RewrittenVariable, UrlRewrite } from './deployed-environment.ts';
import { setQueueSourceEnabled } from './deployed-event-source.ts';
import type { DeployedQueueSource } from './deployed-event-source.ts';
import { startAlarmActionBridge } from './alarm-action-bridge.ts';
import type { AlarmActionBridge } from './alarm-action-bridge.ts';
import { importHandler } from './deployed-handler.ts';
import type { DeployedRoute, ServiceApi } from './deployed-routes.ts';

/** Which deployed stack to run, and where to serve it. */
export type ArtifactHostSettings = DeployedArtifactsSettings & {
  /** Interface the fronts listen on; 127.0.0.1 by default. */
  host?: string;
  /** 0 or absent picks a free port. */
  orchestratorPort?: number;
  modelPolicyPort?: number;
  /** Parallel step batches; the mapping's maximum concurrency, else 4. */
  pollerConcurrency?: number;
  /**
   * Disable the stack's own SQS event source mapping while the host runs, and enable it again on
   * stop (default true). The host stands in for it; left on, an emulator tries to run the worker
   * itself on every SendMessage (moto: in Docker, failing), receiving each step message once more
   * and counting that delivery towards the queue's redrive limit.
   */
  pauseDeployedEventSource?: boolean;
  /**
   * A file journaling the step messages being worked on (see cli/local/in-flight-journal.ts): at
   * start, the messages a killed host left in flight are made visible again, so their runs resume
   * at once instead of after the queue's visibility timeout.
   */
  inFlightFile?: string;
  /**
   * Log one structured line per answered request on standard output (`request served`, with the
   * API, status and latency): a local node's log then holds what its alarms read (HLD §9.3).
   */
  accessLog?: boolean;
  /**
   * Where the hosted functions export their spans over OTLP/HTTP (HLD §9.1): set as their
   * `AGENTOS_OTLP_TRACES_URL`, which no deployed function sets (X-Ray traces them on AWS).
   */
  otlpTracesUrl?: string;
};

/**
 * The environment the hosted functions share: the deployed one, plus what the host's settings add
 * for this machine only (the OTLP traces endpoint), checked as the functions will read it.
 */
export function hostedVariables(
  deployed: Record<string, string>,
  settings: Pick<ArtifactHostSettings, 'otlpTracesUrl'>,
): Record<string, string> {
  const variables =
    settings.otlpTracesUrl === undefined
      ? { ...deployed }
      : { ...deployed, ...otlpTracingEnv.render({ AGENTOS_OTLP_TRACES_URL: settings.otlpTracesUrl }) };
  otlpTracingEnv.parse(variables);
  return variables;
}

/** A function the host runs, and the deployed code it runs it from. */
export type HostedFunction = {
  /** The deployed function's physical name. */
  functionName: string;
  /** The module imported: inside the unpacked deployment package. */
  modulePath: string;
  codeDirectory: string;
  codeSha256: string;
  source: { bucket: string; key: string };
  /** Absent when the package had been unpacked by an earlier run. */
  downloaded?: { zipBytes: number; unzippedBytes: number; files: number };
};

/** A deployed node stack running on this machine. */
export type ArtifactHost = {
  orchestratorUrl: string;
  modelPolicyUrl: string;
  functions: Record<FunctionName, HostedFunction>;
  routes: Record<ServiceApi, { source: 'deployed' | 'definitions'; routes: DeployedRoute[] }>;
  environment: {
    /** Variables whose deployed API URL now points at a local front. */
    rewritten: RewrittenVariable[];
    /** Variables holding a deployed API URL left as deployed (issuers), with the reason. */
    kept: KeptVariable[];
    /** Per-function variables left out of the shared environment. */
    functionScoped: string[];
    /** AGENTOS_* and POWERTOOLS_* variables this process had that no deployed function sets, removed. */
    removed: string[];
    /** Names of the variables the hosted functions share. */
    names: string[];
  };
  timings: { readStackMs: number; codeMs: number; startMs: number };
  notes: string[];
  stop(): Promise<void>;
};

/** Handlers read `process.env` when imported, and modules stay loaded: one host per process. */
let hostStarted = false;

/** Variable families a function may read that this process may have inherited from its shell. */
const hostedPrefixes = ['AGENTOS_', 'POWERTOOLS_'];

/** Makes `process.env` exactly the shared environment, as far as the functions' own variables go. */
function applyEnvironment(variables: Record<string, string>): string[] {
  const removed = Object.keys(process.env).filter(
    (name) => hostedPrefixes.some((prefix) => name.startsWith(prefix)) && !(name in variables),
  );
  for (const name of removed) Reflect.deleteProperty(process.env, name);
  Object.assign(process.env, variables);
  return removed.sort();
}

function localRoutes(
  artifacts: DeployedArtifacts,
  api: ServiceApi,
  handlers: ReadonlyMap<FunctionName, unknown>,
): LocalRoute[] {
  return artifacts.apis[api].routes.map((route) => {
    const handler = handlers.get(route.function);
    const deployed = artifacts.functions[route.function];
    // The front streams exactly when the handler is streamified; the integration must agree.
    if (isStreamingHandler(handler) !== route.streaming)
      throw new Error(
        `${api} ${route.method} ${route.resource}: the integration ${route.streaming ? 'streams' : 'buffers'} ` +
          `but ${deployed.handlerLocation.modulePath} exports a ${isStreamingHandler(handler) ? 'streaming' : 'buffered'} handler`,
      );
    return {
      resource: route.resource,
      method: route.method,
      functionName: deployed.functionName,
      timeoutSeconds: deployed.timeoutSeconds,
      handler,
    };
  });
}

function hostedFunctions(artifacts: DeployedArtifacts): Record<FunctionName, HostedFunction> {
  const entries = Object.values(artifacts.functions).map((f) => {
    const hosted: HostedFunction = {
      functionName: f.functionName,
      modulePath: f.handlerLocation.modulePath,
      codeDirectory: f.code.directory,
      codeSha256: f.code.codeSha256,
      source: f.source,
      ...(f.code.downloaded === undefined ? {} : { downloaded: f.code.downloaded }),
    };
    return [f.name, hosted] as const;
  });
  return Object.fromEntries(entries) as Record<FunctionName, HostedFunction>;
}

/** Releases what a previous host left in flight on the step queue, and opens a fresh journal. */
async function resumeInFlight(
  config: ReturnType<typeof deployedClientConfig>,
  queueUrl: string,
  file: string,
): Promise<{ journal: InFlightJournal; note: string | undefined }> {
  const journal = new InFlightJournal(file);
  const leftOver = journal.leftOver();
  let note: string | undefined;
  if (leftOver.length > 0) {
    const sqs = new SQSClient(config);
    try {
      const { released, stale } = await releaseMessages(sqs, queueUrl, leftOver);
      note = `released ${released} step message(s) the previous host left in flight (${stale} already settled)`;
    } finally {
      sqs.destroy();
    }
  }
  journal.remove([]);
  return { journal, note };
}

/**
 * Runs a deployed node stack on this machine, from what was deployed: each function's code is the
 * deployment package CloudFormation deployed (downloaded and unpacked), its environment is the one
 * Lambda holds (deployed API URLs pointed at the local fronts), its routes are the deployed REST
 * APIs' (checked against infra/resources/definitions.ts). API Gateway is stood in for by the local
 * fronts and the event source mappings of the step worker (step and deadline queues) and of the
 * settlement worker (settlement queue) by local pollers, as in the local node.
 * One host per process: the handlers read `process.env` when imported, and stay loaded.
 */
export async function startArtifactHost(settings: ArtifactHostSettings): Promise<ArtifactHost> {
  const refuseSecond = () => {
    if (hostStarted)
      throw new Error('One artifact host per process: handlers read process.env when imported');
  };
  refuseSecond();
  const artifacts = await readDeployedArtifacts(settings);
  const started = performance.now();
  const host = settings.host ?? '127.0.0.1';
  const orchestratorPort = settings.orchestratorPort || (await freePort());
  const modelPolicyPort = settings.modelPolicyPort || (await freePort());
  const localUrls: Record<ServiceApi, string> = {
    orchestrator: `http://${host}:${orchestratorPort}`,
    modelPolicy: `http://${host}:${modelPolicyPort}`,
  };
  const rewrites: UrlRewrite[] = (Object.keys(localUrls) as ServiceApi[]).flatMap((api) =>
    artifacts.apis[api].urls.map((from) => ({ from, to: `${localUrls[api]}/` })),
  );
  const perFunction = Object.fromEntries(
    Object.values(artifacts.functions).map((f) => [f.name, f.environment]),
  ) as Record<FunctionName, Record<string, string>>;
  const shared = sharedEnvironment(perFunction, runtimeEnvironment(settings.aws), rewrites);
  // From here on this process's environment and loaded modules belong to this host.
  refuseSecond();
  hostStarted = true;
  const variables = hostedVariables(shared.variables, settings);
  const removed = applyEnvironment(variables);
  installLambdaRuntimeShim();
  installInvokeStore();

  const handlers = new Map<FunctionName, unknown>();
  for (const f of Object.values(artifacts.functions))
    handlers.set(f.name, await importHandler(f.handlerLocation));

  const config = deployedClientConfig(settings.aws);
  const queue = artifacts.stepQueue;
  const notes = [...artifacts.notes];
  // The step worker's event sources, the step queue and the deadline queue (HLD §4.3), and the
  // settlement worker's, the settlement queue (HLD §5.3).
  const sources = [
    queue,
    ...(artifacts.deadlineQueue === undefined ? [] : [artifacts.deadlineQueue]),
    artifacts.settlementQueue,
  ];
  const paused = (settings.pauseDeployedEventSource ?? true) ? sources.filter((s) => s.enabled) : [];
  const resume = async () => {
    for (const source of paused) await setQueueSourceEnabled(config, source.uuid, true);
  };
  const fronts: HttpFront[] = [];
  let poller: SqsPoller | undefined;
  let deadlinePoller: SqsPoller | undefined;
  let settlementPoller: SqsPoller | undefined;
  let sampler: QueueSampler | undefined;
  // A deployed stack names its queues with an instance suffix: the DLQs are read from its outputs,
  // not derived from the step queue's name.
  const deadLetterQueueUrls = ['StepDeadLetterQueueUrl', 'SettlementDeadLetterQueueUrl'].flatMap((name) => {
    const url = artifacts.stack.outputs[name];
    return url === undefined ? [] : [url];
  });
  const dashboard = startLocalDashboard({
    nodeId: settings.stackName.replace(/^AgentOS-/, ''),
    aws: config,
    stepQueueUrl: queue.queueUrl,
    deadLetterQueueUrls,
  });
  // Each front also serves the node's dashboard and feeds it its requests' latencies.
  const frontFor = (api: string) => {
    const accessLog = settings.accessLog === true ? accessLogLine(api) : undefined;
    return {
      localPages: dashboard.localPages,
      observe: (served: ServedRequest) => {
        accessLog?.(served);
        dashboard.observe(served);
      },
    };
  };
  let alarmBridge: AlarmActionBridge | undefined;
  try {
    for (const source of paused) {
      await setQueueSourceEnabled(config, source.uuid, false);
      notes.push(
        `the stack's event source mapping ${source.uuid} is disabled while the host polls ${source.queueArn} ` +
          'in its place (enabled again on stop)',
      );
    }
    fronts.push(
      await startHttpFront({
        routes: localRoutes(artifacts, 'modelPolicy', handlers),
        port: modelPolicyPort,
        host,
        ...frontFor('model_policy'),
        metricsRegistry: localMetricsRegistry,
      }),
    );
    dashboard.addFront('model_policy', fronts[0]!);
    fronts.push(
      await startHttpFront({
        routes: localRoutes(artifacts, 'orchestrator', handlers),
        port: orchestratorPort,
        host,
        ...frontFor('orchestrator'),
        metricsRegistry: localMetricsRegistry,
      }),
    );
    dashboard.addFront('orchestrator', fronts[1]!);
    const inFlight =
      settings.inFlightFile === undefined
        ? undefined
        : await resumeInFlight(config, queue.queueUrl, settings.inFlightFile);
    if (inFlight?.note !== undefined) notes.push(inFlight.note);
    type QueueHandler = (event: SQSEvent, context: unknown) => Promise<SQSBatchResponse>;
    /** An event source mapping of a deployed queue onto the deployed function that consumes it. */
    const pollQueue = (
      label: string,
      source: DeployedQueueSource,
      functionName: 'stepWorker' | 'settlementWorker',
      concurrency: number,
      journal?: Parameters<typeof startSqsPoller>[0]['journal'],
    ) =>
      startSqsPoller({
        ...(journal === undefined ? {} : { journal }),
        aws: config,
        queueUrl: source.queueUrl,
        queueArn: source.queueArn,
        functionName: artifacts.functions[functionName].functionName,
        timeoutSeconds: artifacts.functions[functionName].timeoutSeconds,
        handler: handlers.get(functionName) as QueueHandler,
        batchSize: source.batchSize,
        concurrency,
        onError: (error) =>
          console.error(`${label} poller error`, error instanceof Error ? error.message : error),
      });
    poller = pollQueue(
      'step',
      queue,
      'stepWorker',
      settings.pollerConcurrency ?? queue.maximumConcurrency ?? 4,
      inFlight?.journal,
    );
    const deadlines = artifacts.deadlineQueue;
    if (deadlines !== undefined) deadlinePoller = pollQueue('deadline', deadlines, 'stepWorker', 1);
    // Settlements queue up only while the table refuses them: one batch at a time keeps up.
    settlementPoller = pollQueue('settlement', artifacts.settlementQueue, 'settlementWorker', 1);
    const stepPoller = poller;
    // The queues' gauges on GET /metrics, which SQS's own metrics give on AWS (HLD §9.1).
    sampler = startQueueSampler({
      // One attempt per read, as on the in-process node: a stalled emulator leaves the gauges at their
      // last values instead of stretching a sample past its 5 s period.
      aws: { ...config, maxAttempts: 1 },
      stepQueueUrl: queue.queueUrl,
      deadLetterQueueUrls,
      oldestStepAgeMs: () => stepPoller.oldestHeldAgeMs(),
      onError: (error) =>
        console.error('queue sampler error', error instanceof Error ? error.message : error),
    });
    // The alarm topic's Lambda subscription (the alert notifier, HLD §9.3): the emulator neither runs
    // alarm actions nor invokes a subscribed function, so the host does both in their place.
    const subscription = artifacts.stack.topicSubscriptions.find((s) => s.function === 'alertNotifier');
    if (subscription !== undefined) {
      const notifier = artifacts.functions.alertNotifier;
      alarmBridge = startAlarmActionBridge({
        aws: config,
        topicArn: subscription.topicArn,
        functionName: notifier.functionName,
        timeoutSeconds: notifier.timeoutSeconds,
        handler: handlers.get('alertNotifier') as (event: SNSEvent, context: unknown) => Promise<unknown>,
        onError: (error) =>
          console.error('alarm action bridge error', error instanceof Error ? error.message : error),
      });
      notes.push(
        `alarm state changes whose actions publish to ${subscription.topicArn} are handed to ` +
          `${notifier.functionName} by the host, standing in for CloudWatch alarm actions and the topic's Lambda subscription`,
      );
    }
  } catch (error) {
    sampler?.stop();
    await alarmBridge?.stop();
    await poller?.stop();
    await deadlinePoller?.stop();
    await settlementPoller?.stop();
    await Promise.allSettled(fronts.map((front) => front.close()));
    await dashboard.stop();
    // Both failures matter: the start's, and that the deployed mappings stay disabled.
    await resume().catch((restoreError: unknown) => {
      throw new AggregateError(
        [error, restoreError],
        `${String(error)}; enabling ${paused.map((s) => s.uuid).join(', ')} again failed too`,
      );
    });
    throw error;
  }
  const [modelPolicyFront, orchestratorFront] = fronts as [HttpFront, HttpFront];
  const runningPoller = poller;
  const runningDeadlinePoller = deadlinePoller;
  const runningSettlementPoller = settlementPoller;
  const runningBridge = alarmBridge;
  const runningSampler = sampler;
  return {
    orchestratorUrl: orchestratorFront.url,
    modelPolicyUrl: modelPolicyFront.url,
    functions: hostedFunctions(artifacts),
    routes: {
      orchestrator: {
        source: artifacts.apis.orchestrator.source,
        routes: artifacts.apis.orchestrator.routes,
      },
      modelPolicy: { source: artifacts.apis.modelPolicy.source, routes: artifacts.apis.modelPolicy.routes },
    },
    environment: {
      rewritten: shared.rewritten,
      kept: shared.kept,
      functionScoped: shared.functionScoped,
      removed,
      names: Object.keys(variables).sort(),
    },
    timings: { ...artifacts.timings, startMs: performance.now() - started },
    notes,
    async stop() {
      try {
        runningSampler?.stop();
        await Promise.all([
          runningPoller.stop(),
          runningDeadlinePoller?.stop(),
          runningSettlementPoller.stop(),
        ]);
        await runningBridge?.stop();
        await Promise.allSettled(fronts.map((front) => front.close()));
        await dashboard.stop();
      } finally {
        await resume();
      }
    },
  };
}
