import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { FunctionName } from '../../infra/resources/definitions.ts';
import type { DeployedClientConfig } from './deployed-aws.ts';
import type { DeployedStack } from './deployed-stack.ts';

/** A deployed function's configuration, as Lambda holds it (CloudFormation's values resolved). */
export type DeployedFunctionConfiguration = {
  name: FunctionName;
  /** The physical function name. */
  functionName: string;
  arn: string;
  handler: string;
  runtime: string;
  timeoutSeconds: number;
  /** Base64 SHA-256 of the deployment package, as Lambda reports it. */
  codeSha256: string;
  codeSize: number;
  environment: Record<string, string>;
};

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`Lambda returned no ${what}`);
  return value;
}

/**
 * Reads each AgentOS function's configuration from Lambda: the environment exactly as CloudFormation
 * resolved it, the handler, timeout and code hash. A handler that differs from the template's means
 * the function was changed outside CloudFormation, and is refused.
 */
export async function readFunctionConfigurations(
  config: DeployedClientConfig,
  stack: DeployedStack,
): Promise<Record<FunctionName, DeployedFunctionConfiguration>> {
  const lambda = new LambdaClient(config);
  try {
    const entries = await Promise.all(
      Object.values(stack.functions).map(async (resource) => {
        const answer = await lambda.send(
          new GetFunctionConfigurationCommand({ FunctionName: resource.physicalId }),
        );
        const handler = required(answer.Handler, `handler for ${resource.physicalId}`);
        if (handler !== resource.handler)
          throw new Error(
            `${resource.physicalId} runs handler ${handler}, but the stack's template says ${resource.handler}: ` +
              'the function was changed outside CloudFormation',
          );
        const configuration: DeployedFunctionConfiguration = {
          name: resource.name,
          functionName: resource.physicalId,
          arn: required(answer.FunctionArn, `ARN for ${resource.physicalId}`),
          handler,
          runtime: answer.Runtime ?? 'unknown',
          timeoutSeconds: required(answer.Timeout, `timeout for ${resource.physicalId}`),
          codeSha256: required(answer.CodeSha256, `code hash for ${resource.physicalId}`),
          codeSize: answer.CodeSize ?? 0,
          environment: { ...answer.Environment?.Variables },
        };
        return [resource.name, configuration] as const;
      }),
    );
    return Object.fromEntries(entries) as Record<FunctionName, DeployedFunctionConfiguration>;
  } finally {
    lambda.destroy();
  }
}
