import { performance } from 'node:perf_hooks';
import type { FunctionName } from '../../infra/resources/definitions.ts';
import { deployedClientConfig } from './deployed-aws.ts';
import type { DeployedAwsSettings } from './deployed-aws.ts';
import { fetchFunctionCode } from './deployed-code.ts';
import type { ExtractedCode } from './deployed-code.ts';
import { readQueueSources } from './deployed-event-source.ts';
import type { DeployedQueueSource } from './deployed-event-source.ts';
import { readFunctionConfigurations } from './deployed-functions.ts';
import type { DeployedFunctionConfiguration } from './deployed-functions.ts';
import { resolveHandler } from './deployed-handler.ts';
import type { HandlerLocation } from './deployed-handler.ts';
import { readDeployedApis } from './deployed-routes.ts';
import type { DeployedApi, ServiceApi } from './deployed-routes.ts';
import { readDeployedStack } from './deployed-stack.ts';
import type { DeployedStack } from './deployed-stack.ts';

/** Which deployed stack to read, where, and where to unpack its code. */
export type DeployedArtifactsSettings = {
  stackName: string;
  aws: DeployedAwsSettings;
  /** Deployment packages are unpacked under here, one directory per package hash. */
  cacheDir: string;
};

/** One deployed function, with its code unpacked on this machine. */
export type DeployedFunctionArtifact = DeployedFunctionConfiguration & {
  /** Where CloudFormation deployed the code from. */
  source: { bucket: string; key: string };
  code: ExtractedCode;
  handlerLocation: HandlerLocation;
};

/** Everything a deployed node stack is made of that this machine needs to run it. */
export type DeployedArtifacts = {
  stack: DeployedStack;
  functions: Record<FunctionName, DeployedFunctionArtifact>;
  apis: Record<ServiceApi, DeployedApi>;
  /** The step worker's event source: the step queue. */
  stepQueue: DeployedQueueSource;
  /** The step worker's other event source: the deadline queue (absent on a stack from before it). */
  deadlineQueue: DeployedQueueSource | undefined;
  /** The settlement worker's event source: the settlement queue (HLD §5.3). */
  settlementQueue: DeployedQueueSource;
  /** What differs from a deployed node, or was worked around, in words. */
  notes: string[];
  timings: { readStackMs: number; codeMs: number };
};

/**
 * Tells the step worker's event sources apart by the stack's queue outputs: the step queue's, and
 * the deadline queue's. With one source and no step queue output, that source is the step queue.
 */
function sortQueueSources(
  stack: DeployedStack,
  sources: readonly DeployedQueueSource[],
): { stepQueue: DeployedQueueSource; deadlineQueue: DeployedQueueSource | undefined } {
  const named = (output: string) => {
    const url = stack.outputs[output];
    return url === undefined
      ? undefined
      : sources.find((source) => source.queueArn.split(':').at(-1) === url.split('/').at(-1));
  };
  const deadlineQueue = named('DeadlineQueueUrl');
  const stepQueue = named('StepQueueUrl') ?? (sources.length === 1 ? sources[0] : undefined);
  const expected = deadlineQueue === undefined ? 1 : 2;
  if (stepQueue === undefined || sources.length !== expected)
    throw new Error(
      `The step worker is fed from ${sources.map((s) => s.queueArn).join(', ')}, but the stack's ` +
        `StepQueueUrl and DeadlineQueueUrl outputs are ${stack.outputs['StepQueueUrl'] ?? 'absent'} and ` +
        `${stack.outputs['DeadlineQueueUrl'] ?? 'absent'}`,
    );
  return { stepQueue, deadlineQueue };
}

/**
 * The settlement worker's one event source, checked against the stack's `SettlementQueueUrl`
 * output: the host polls exactly the queue the Model Policy sends to.
 */
function settlementQueueSource(
  stack: DeployedStack,
  sources: readonly DeployedQueueSource[],
): DeployedQueueSource {
  const url = stack.outputs['SettlementQueueUrl'];
  const [source] = sources;
  if (
    sources.length !== 1 ||
    source === undefined ||
    (url !== undefined && source.queueArn.split(':').at(-1) !== url.split('/').at(-1))
  )
    throw new Error(
      `The settlement worker is fed from ${sources.map((s) => s.queueArn).join(', ')}, but the stack's ` +
        `SettlementQueueUrl output is ${url ?? 'absent'}`,
    );
  return source;
}

function runtimeNote(functions: readonly DeployedFunctionConfiguration[]): string[] {
  const local = `nodejs${process.versions.node.split('.')[0]}.x`;
  const others = [...new Set(functions.map((f) => f.runtime).filter((runtime) => runtime !== local))];
  return others.length === 0
    ? []
    : [
        `the functions are deployed for ${others.join(', ')}; this machine runs Node.js ${process.versions.node}`,
      ];
}

/**
 * Reads a deployed node stack (CloudFormation, Lambda, API Gateway) and unpacks each AgentOS
 * function's deployment package: everything {@link startArtifactHost} needs, and nothing started.
 */
export async function readDeployedArtifacts(settings: DeployedArtifactsSettings): Promise<DeployedArtifacts> {
  const config = deployedClientConfig(settings.aws);
  const started = performance.now();
  const stack = await readDeployedStack(config, settings.stackName);
  const configurations = await readFunctionConfigurations(config, stack);
  const [{ apis, notes: routeNotes }, queueSources, settlementSources] = await Promise.all([
    readDeployedApis(config, stack, configurations),
    readQueueSources(config, configurations.stepWorker.functionName),
    readQueueSources(config, configurations.settlementWorker.functionName),
  ]);
  const { stepQueue, deadlineQueue } = sortQueueSources(stack, queueSources);
  const settlementQueue = settlementQueueSource(stack, settlementSources);
  const stackRead = performance.now();

  const download = deployedClientConfig(settings.aws, 'download');
  const functions = Object.fromEntries(
    await Promise.all(
      Object.values(configurations).map(async (configuration) => {
        const source = stack.functions[configuration.name].code;
        const code = await fetchFunctionCode({
          config: download,
          location: source,
          codeSha256: configuration.codeSha256,
          cacheDir: settings.cacheDir,
        });
        const handlerLocation = resolveHandler(code.directory, configuration.handler);
        return [configuration.name, { ...configuration, source, code, handlerLocation }] as const;
      }),
    ),
  ) as Record<FunctionName, DeployedFunctionArtifact>;
  const cached = Object.values(functions).filter((f) => f.code.downloaded === undefined);

  const notes = [
    ...routeNotes,
    ...runtimeNote(Object.values(configurations)),
    ...(stack.otherFunctions.length === 0
      ? []
      : [`not hosted (not AgentOS functions): ${stack.otherFunctions.join(', ')}`]),
    ...(cached.length === 0
      ? []
      : [
          `already unpacked in ${settings.cacheDir}, not downloaded again: ${cached.map((f) => f.name).join(', ')}`,
        ]),
  ];
  return {
    stack,
    functions,
    apis,
    stepQueue,
    deadlineQueue,
    settlementQueue,
    notes,
    timings: { readStackMs: stackRead - started, codeMs: performance.now() - stackRead },
  };
}
