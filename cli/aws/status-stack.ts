import { DescribeStacksCommand, GetTemplateCommand } from '@aws-sdk/client-cloudformation';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { z } from 'zod';
import { awsErrorInfo } from './preflight-aws-errors.ts';

/** A node stack as CloudFormation describes it; `deployed: false` when there is no such stack. */
export type StackState =
  | { deployed: false }
  | {
      deployed: true;
      status: string;
      reason?: string;
      /** The stack's outputs by key (the API base URLs, queue URLs, …). */
      outputs: Record<string, string>;
    };

const StacksSchema = z.object({
  Stacks: z
    .array(
      z.object({
        StackStatus: z.string(),
        StackStatusReason: z.string().optional(),
        Outputs: z
          .array(z.object({ OutputKey: z.string().optional(), OutputValue: z.string().optional() }))
          .default([]),
      }),
    )
    .default([]),
});

/** Describes the stack; a stack that does not exist (or was deleted) is `deployed: false`. */
export async function describeStack(
  cloudFormation: CloudFormationClient,
  stackName: string,
): Promise<StackState> {
  let answer: z.infer<typeof StacksSchema>;
  try {
    answer = StacksSchema.parse(
      await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName })),
    );
  } catch (error) {
    // CloudFormation's only way of saying "no such stack" is a ValidationError naming it.
    const info = awsErrorInfo(error);
    if (info.name === 'ValidationError' && /does not exist/.test(info.message)) return { deployed: false };
    throw error;
  }
  const stack = answer.Stacks[0];
  if (stack === undefined) return { deployed: false };
  const outputs: Record<string, string> = {};
  for (const output of stack.Outputs)
    if (output.OutputKey !== undefined && output.OutputValue !== undefined)
      outputs[output.OutputKey] = output.OutputValue;
  return {
    deployed: true,
    status: stack.StackStatus,
    ...(stack.StackStatusReason === undefined ? {} : { reason: stack.StackStatusReason }),
    outputs,
  };
}

/** Stack states an operator must act on (the stack is broken or going away). */
export function stackNeedsAction(status: string): boolean {
  return (
    status.endsWith('_FAILED') ||
    status === 'ROLLBACK_COMPLETE' ||
    status === 'ROLLBACK_IN_PROGRESS' ||
    status === 'DELETE_IN_PROGRESS'
  );
}

const TemplateSchema = z.object({
  Resources: z.record(
    z.string(),
    z.object({ Type: z.string(), Properties: z.record(z.string(), z.unknown()).optional() }),
  ),
});

/**
 * The names of the stack's REST APIs, which API Gateway's CloudWatch metrics are keyed by
 * (`ApiName`), read from the deployed template. The node stack names them literally at synth time;
 * a name computed at deploy time cannot be read there and is returned as `unnamed`.
 */
export async function restApiNames(
  cloudFormation: CloudFormationClient,
  stackName: string,
): Promise<{ named: string[]; unnamed: string[] }> {
  const body = (await cloudFormation.send(new GetTemplateCommand({ StackName: stackName }))).TemplateBody;
  if (body === undefined) throw new Error(`CloudFormation returned no template for ${stackName}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (cause) {
    throw new Error(`the template of ${stackName} is not JSON (a CDK stack's always is)`, { cause });
  }
  const template = TemplateSchema.parse(parsed);
  const named: string[] = [];
  const unnamed: string[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::ApiGateway::RestApi') continue;
    const name = resource.Properties?.['Name'];
    if (typeof name === 'string') named.push(name);
    else unnamed.push(logicalId);
  }
  return { named, unnamed };
}
