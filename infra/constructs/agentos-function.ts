import { existsSync } from 'node:fs';
import { Duration, Validations } from 'aws-cdk-lib';
import type { RemovalPolicy } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Code, Function as LambdaFunction, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { bundleDirectory, bundleFile, nonDeployedBundleFiles } from '../build/bundle-layout.ts';
import { functionDefinitions } from '../resources/definitions.ts';
import { telemetryEnv } from '../../functions/shared/observability/telemetry-env.ts';
import type { FunctionName } from '../resources/definitions.ts';

/** One AgentOS Lambda function: what differs from the others. */
export type AgentOsFunctionProps = {
  name: FunctionName;
  /** Where `bundleFunctions` wrote the bundles. */
  bundlesDir: string;
  /** The Powertools service name, the same one the composition root passes to its telemetry. */
  serviceName: string;
  /** The node's id, on every log line of the function (HLD §9.1). */
  nodeId: string;
  environment: Record<string, string>;
  logRetention: RetentionDays;
  removalPolicy: RemovalPolicy;
  /** Why a function invoked asynchronously has no Lambda dead-letter queue; unset: invoked synchronously. */
  deadLetterReason?: string;
};

/** The Powertools namespace every AgentOS metric is published under (see telemetry.ts). */
const metricsNamespace = 'AgentOS';

/**
 * A function built from its esbuild bundle, with the settings every AgentOS function shares:
 * Node 24 on arm64, active X-Ray tracing, its own log group, Powertools configured by environment,
 * and its own role, which may write to that log group and nowhere else until the stack grants more.
 */
export class AgentOsFunction extends Construct {
  readonly function: LambdaFunction;

  constructor(scope: Construct, id: string, props: AgentOsFunctionProps) {
    super(scope, id);
    const definition = functionDefinitions[props.name];
    const assetDirectory = bundleDirectory(props.bundlesDir, props.name);
    if (!existsSync(bundleFile(props.bundlesDir, props.name))) {
      throw new Error(
        `No bundle for "${props.name}" in ${assetDirectory}: run node infra/build/bundle-functions.ts first`,
      );
    }
    const logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    // Not the AWSLambdaBasicExecutionRole managed policy: that one may create and write any log
    // group in the account, while this function only ever writes to its own.
    const role = new Role(this, 'ServiceRole', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `AgentOS ${props.name}`,
    });
    logGroup.grantWrite(role);
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Active X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level ' +
        'permissions, so they need Resource "*"; every other grant to this role names its resource ' +
        '(test/infra/stack-hygiene.test.ts checks that only X-Ray actions use "*").',
    });

    this.function = new LambdaFunction(this, 'Function', {
      description: `AgentOS ${props.name} (${definition.entry})`,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      handler: 'index.handler',
      code: Code.fromAsset(assetDirectory, { exclude: nonDeployedBundleFiles }),
      memorySize: definition.memoryMb,
      timeout: Duration.seconds(definition.timeoutSeconds),
      tracing: Tracing.ACTIVE,
      role,
      logGroup,
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: metricsNamespace,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        ...telemetryEnv.render({ AGENTOS_NODE_ID: props.nodeId }),
        ...props.environment,
      },
    });
    // CDK makes the function depend on its whole role construct: the DependsOn on the role's
    // default policy matters (the function must not run before its grants exist), and the one on
    // the role itself, which the GetAtt of its ARN already implies, comes along with it.
    (this.function.node.defaultChild as CfnFunction).addMetadata('cfn-lint', {
      config: { ignore_checks: ['W3005'] },
    });

    if ('batchSize' in definition) {
      Validations.of(this.function).acknowledge(
        {
          id: 'Serverless-LambdaDLQ',
          reason:
            'A queue worker (the step worker, the settlement worker) is invoked only by its SQS event ' +
            'source mappings, never asynchronously, so a Lambda dead-letter queue would stay empty; a ' +
            "message that keeps failing moves to its queue's dead-letter queue through the queue's " +
            'redrive policy (maxReceiveCount).',
        },
        {
          id: 'Serverless-LambdaEventSourceMappingDestination',
          reason:
            'Lambda supports no on-failure destination for SQS event sources; failed messages go to ' +
            "their queue's dead-letter queue through the queue's redrive policy, where the dlq_not_empty " +
            'alarm finds them (the step worker also fails the run on the last delivery before that).',
        },
      );
    } else {
      Validations.of(this.function).acknowledge({
        id: 'Serverless-LambdaDLQ',
        reason:
          props.deadLetterReason ??
          'Invoked only synchronously, by API Gateway: a failure is answered to the client as an HTTP error ' +
            "in the API's error envelope, and a Lambda dead-letter queue receives only failed asynchronous " +
            'invocations, which this function never gets.',
      });
    }
  }
}
