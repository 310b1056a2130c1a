import {
  CloudFormationClient,
  DescribeStacksCommand,
  GetTemplateCommand,
  paginateListStackResources,
} from '@aws-sdk/client-cloudformation';
import type { StackResourceSummary } from '@aws-sdk/client-cloudformation';
import { z } from 'zod';
import { functionDefinitions } from '../../infra/resources/definitions.ts';
import type { FunctionName } from '../../infra/resources/definitions.ts';
import type { DeployedClientConfig } from './deployed-aws.ts';

/** One AgentOS Lambda function of a deployed stack, as CloudFormation created it. */
export type DeployedFunctionResource = {
  name: FunctionName;
  logicalId: string;
  /** The function's physical name. */
  physicalId: string;
  /** The template's `Handler`, e.g. `index.handler`. */
  handler: string;
  /** Where CloudFormation took the code from: the CDK asset in the bootstrap bucket. */
  code: { bucket: string; key: string };
};

/** What CloudFormation says about a deployed node stack. */
export type DeployedStack = {
  stackName: string;
  stackId: string;
  status: string;
  accountId: string;
  region: string;
  partition: string;
  urlSuffix: string;
  outputs: Record<string, string>;
  functions: Record<FunctionName, DeployedFunctionResource>;
  /** Physical ids of the stack's REST APIs. */
  restApiIds: string[];
  /** Lambda functions of the stack that are not AgentOS functions (CDK helpers), by logical id. */
  otherFunctions: string[];
  /** The template's SNS subscriptions of AgentOS functions: which topic invokes which function. */
  topicSubscriptions: { topicArn: string; function: FunctionName }[];
};

const LambdaSubscriptionSchema = z.object({
  Protocol: z.literal('lambda'),
  TopicArn: z.object({ Ref: z.string() }),
  Endpoint: z.object({ 'Fn::GetAtt': z.tuple([z.string(), z.literal('Arn')]) }),
});

/** Statuses in which a stack's resources are all in place and stable. */
const usableStatuses = new Set([
  'CREATE_COMPLETE',
  'UPDATE_COMPLETE',
  'UPDATE_ROLLBACK_COMPLETE',
  'IMPORT_COMPLETE',
  'IMPORT_ROLLBACK_COMPLETE',
]);

const TemplateSchema = z.object({
  Resources: z.record(
    z.string(),
    z.object({ Type: z.string(), Properties: z.record(z.string(), z.unknown()).optional() }),
  ),
});

const FunctionPropertiesSchema = z.object({
  Handler: z.string().min(1),
  Code: z.object({ S3Bucket: z.unknown(), S3Key: z.unknown() }),
});

const stackArnPattern = /^arn:([a-z-]+):cloudformation:([a-z0-9-]+):(\d{12}):stack\/.+$/;

/** Partition, region and account of a stack, from its ARN (no STS call needed). */
function parseStackArn(arn: string | undefined): { partition: string; region: string; accountId: string } {
  const match = stackArnPattern.exec(arn ?? '');
  if (match === null) throw new Error(`${String(arn)} is not a stack ARN`);
  return { partition: match[1]!, region: match[2]!, accountId: match[3]! };
}

type PseudoParameters = Record<
  'AWS::AccountId' | 'AWS::Region' | 'AWS::Partition' | 'AWS::URLSuffix',
  string
>;

/**
 * Resolves the template expressions a CDK asset location is written with (`Fn::Sub` of pseudo
 * parameters, `Ref` to one, `Fn::Join`). Anything that needs another resource's value is refused:
 * the template alone cannot say what it resolved to.
 */
export function resolveTemplateString(value: unknown, pseudo: PseudoParameters, where: string): string {
  if (typeof value === 'string') return value;
  const fail = (): never => {
    throw new Error(`${where}: cannot resolve ${JSON.stringify(value)} from the template alone`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail();
  const entries = Object.entries(value);
  if (entries.length !== 1) return fail();
  const [[intrinsic, argument]] = entries as [[string, unknown]];
  if (intrinsic === 'Ref' && typeof argument === 'string' && argument in pseudo)
    return pseudo[argument as keyof PseudoParameters];
  if (intrinsic === 'Fn::Sub' && typeof argument === 'string') {
    return argument.replace(/\$\{([^}]+)\}/g, (_, name: string) =>
      name in pseudo ? pseudo[name as keyof PseudoParameters] : fail(),
    );
  }
  if (intrinsic === 'Fn::Join' && Array.isArray(argument) && argument.length === 2) {
    const [separator, parts] = argument as [unknown, unknown];
    if (typeof separator === 'string' && Array.isArray(parts))
      return parts.map((part) => resolveTemplateString(part, pseudo, where)).join(separator);
  }
  return fail();
}

/** The AgentOS function a logical id belongs to: CDK names it `<name>Function<8 hex digits>`. */
function functionNameOf(logicalId: string): FunctionName | undefined {
  const names = Object.keys(functionDefinitions) as FunctionName[];
  const matches = names.filter((name) => new RegExp(`${name}Function[0-9A-F]{8}$`).test(logicalId));
  return matches.length === 1 ? matches[0] : undefined;
}

async function listResources(cfn: CloudFormationClient, stackName: string): Promise<StackResourceSummary[]> {
  // ListStackResources pages; DescribeStackResources stops at 100 resources.
  const resources: StackResourceSummary[] = [];
  for await (const page of paginateListStackResources({ client: cfn }, { StackName: stackName }))
    resources.push(...(page.StackResourceSummaries ?? []));
  return resources;
}

async function readTemplate(
  cfn: CloudFormationClient,
  stackName: string,
): Promise<z.infer<typeof TemplateSchema>> {
  const body = (await cfn.send(new GetTemplateCommand({ StackName: stackName }))).TemplateBody;
  if (body === undefined) throw new Error(`GetTemplate of ${stackName} returned no template`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (cause) {
    // The CDK always deploys JSON; a YAML template came from somewhere else.
    throw new Error(`The template of ${stackName} is not JSON (a CDK-deployed stack's is)`, { cause });
  }
  return TemplateSchema.parse(parsed);
}

/**
 * Reads a deployed node stack from CloudFormation: its outputs, its AgentOS functions (physical
 * names, handlers, and the S3 location their code was deployed from) and its REST APIs. Fails,
 * naming what is missing, unless the stack is complete and holds each AgentOS function exactly once.
 */
export async function readDeployedStack(
  config: DeployedClientConfig,
  stackName: string,
): Promise<DeployedStack> {
  const cfn = new CloudFormationClient(config);
  try {
    const [stack] = (await cfn.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks ?? [];
    if (stack === undefined) throw new Error(`No stack ${stackName}`);
    const status = stack.StackStatus ?? 'UNKNOWN';
    if (!usableStatuses.has(status))
      throw new Error(`Stack ${stackName} is ${status}, not deployed and stable`);
    const stackId = stack.StackId ?? '';
    const { partition, region, accountId } = parseStackArn(stackId);
    const urlSuffix = partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
    const pseudo: PseudoParameters = {
      'AWS::AccountId': accountId,
      'AWS::Region': region,
      'AWS::Partition': partition,
      'AWS::URLSuffix': urlSuffix,
    };
    const outputs: Record<string, string> = {};
    for (const output of stack.Outputs ?? [])
      if (output.OutputKey !== undefined && output.OutputValue !== undefined)
        outputs[output.OutputKey] = output.OutputValue;

    const [resources, template] = await Promise.all([
      listResources(cfn, stackName),
      readTemplate(cfn, stackName),
    ]);
    const functions: Partial<Record<FunctionName, DeployedFunctionResource>> = {};
    const otherFunctions: string[] = [];
    for (const resource of resources) {
      if (resource.ResourceType !== 'AWS::Lambda::Function') continue;
      const logicalId = resource.LogicalResourceId ?? '';
      const name = functionNameOf(logicalId);
      if (name === undefined) {
        otherFunctions.push(logicalId);
        continue;
      }
      if (functions[name] !== undefined)
        throw new Error(
          `Stack ${stackName} has two functions for ${name}: ${functions[name].logicalId}, ${logicalId}`,
        );
      if (resource.PhysicalResourceId === undefined || resource.PhysicalResourceId === '')
        throw new Error(`Function ${logicalId} of ${stackName} has no physical name`);
      const properties = FunctionPropertiesSchema.parse(template.Resources[logicalId]?.Properties);
      const where = `${stackName} ${logicalId} Code`;
      functions[name] = {
        name,
        logicalId,
        physicalId: resource.PhysicalResourceId,
        handler: properties.Handler,
        code: {
          bucket: resolveTemplateString(properties.Code.S3Bucket, pseudo, `${where}.S3Bucket`),
          key: resolveTemplateString(properties.Code.S3Key, pseudo, `${where}.S3Key`),
        },
      };
    }
    const missing = (Object.keys(functionDefinitions) as FunctionName[]).filter((name) => !functions[name]);
    if (missing.length > 0)
      throw new Error(
        `Stack ${stackName} has no function for ${missing.join(', ')} (is it an AgentOS node stack?)`,
      );
    const physicalIds = new Map(
      resources.map((r) => [r.LogicalResourceId ?? '', r.PhysicalResourceId ?? '']),
    );
    const topicSubscriptions = Object.values(template.Resources).flatMap((resource) => {
      if (resource.Type !== 'AWS::SNS::Subscription') return [];
      const parsed = LambdaSubscriptionSchema.safeParse(resource.Properties);
      if (!parsed.success) return [];
      const target = Object.values(functions).find(
        (f) => f.logicalId === parsed.data.Endpoint['Fn::GetAtt'][0],
      );
      const topicArn = physicalIds.get(parsed.data.TopicArn.Ref);
      return target === undefined || topicArn === undefined || topicArn === ''
        ? []
        : [{ topicArn, function: target.name }];
    });
    const restApiIds = resources
      .filter((r) => r.ResourceType === 'AWS::ApiGateway::RestApi' && r.PhysicalResourceId)
      .map((r) => r.PhysicalResourceId!);
    return {
      stackName,
      stackId,
      status,
      accountId,
      region,
      partition,
      urlSuffix,
      outputs,
      functions: functions as Record<FunctionName, DeployedFunctionResource>,
      restApiIds,
      otherFunctions,
      topicSubscriptions,
    };
  } finally {
    cfn.destroy();
  }
}
