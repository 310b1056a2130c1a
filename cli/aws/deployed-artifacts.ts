import { performance } from 'node:perf_hooks';
import type { FunctionName } from '../../infra/resources/definitions.ts';
import { deployedClientConfig } from './deployed-aws.ts';
import type { DeployedAwsSettings } from './deployed-aws.ts';
import { fetchFunctionCode } from './deployed-code.ts';
import type { ExtractedCode } from './deployed-code.ts';
import { readQueueSource } from './deployed-event-source.ts';
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
  /** What differs from a deployed node, or was worked around, in words. */
  notes: string[];
  timings: { readStackMs: number; codeMs: number };
};

function checkStepQueue(stack: DeployedStack, source: DeployedQueueSource): void {
  const output = stack.outputs['StepQueueUrl'];
  const queueName = source.queueArn.split(':').at(-1);
  if (output !== undefined && output.split('/').at(-1) !== queueName)
    throw new Error(
      `The step worker is fed from ${source.queueArn}, but the stack's StepQueueUrl output is ${output}`,
    );
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
  const [{ apis, notes: routeNotes }, stepQueue] = await Promise.all([
    readDeployedApis(config, stack, configurations),
    readQueueSource(config, configurations.stepWorker.functionName),
  ]);
  checkStepQueue(stack, stepQueue);
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
    notes,
    timings: { readStackMs: stackRead - started, codeMs: performance.now() - stackRead },
  };
}
