import { existsSync } from 'node:fs';
import { Duration } from 'aws-cdk-lib';
import type { RemovalPolicy } from 'aws-cdk-lib';
import { Architecture, Code, Function as LambdaFunction, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { bundleDirectory, bundleFile, nonDeployedBundleFiles } from '../build/bundle-layout.ts';
import { functionDefinitions } from '../resources/definitions.ts';
import type { FunctionName } from '../resources/definitions.ts';

/** One AgentOS Lambda function: what differs from the others. */
export type AgentOsFunctionProps = {
  name: FunctionName;
  /** Where `bundleFunctions` wrote the bundles. */
  bundlesDir: string;
  /** The Powertools service name, the same one the composition root passes to its telemetry. */
  serviceName: string;
  environment: Record<string, string>;
  logRetention: RetentionDays;
  removalPolicy: RemovalPolicy;
};

/** The Powertools namespace every AgentOS metric is published under (see telemetry.ts). */
const metricsNamespace = 'AgentOS';

/**
 * A function built from its esbuild bundle, with the settings every AgentOS function shares:
 * Node 24 on arm64, active X-Ray tracing, its own log group, Powertools configured by environment.
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
    this.function = new LambdaFunction(this, 'Function', {
      description: `AgentOS ${props.name} (${definition.entry})`,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      handler: 'index.handler',
      code: Code.fromAsset(assetDirectory, { exclude: nonDeployedBundleFiles }),
      memorySize: definition.memoryMb,
      timeout: Duration.seconds(definition.timeoutSeconds),
      tracing: Tracing.ACTIVE,
      logGroup,
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: metricsNamespace,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        ...props.environment,
      },
    });
  }
}
