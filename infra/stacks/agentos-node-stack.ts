import { Aws, CfnOutput, CfnParameter, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { EmailIdentity, Identity } from 'aws-cdk-lib/aws-ses';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { JwtSettings, NodeSettings } from '../config/node-settings.ts';
import { AgentOsFunction } from '../constructs/agentos-function.ts';
import { NodeTable } from '../constructs/node-table.ts';
import { RunDeadlineStateMachine } from '../constructs/run-deadline-state-machine.ts';
import { ServiceRestApi } from '../constructs/service-rest-api.ts';
import { StepQueues } from '../constructs/step-queues.ts';
import { modelPolicyEnv } from '../../functions/model-policy/composition/model-policy-config.ts';
import {
  orchestratorHttpEnv,
  stepWorkerEnv,
} from '../../functions/orchestrator/composition/orchestrator-config.ts';
import { functionDefinitions, resourceNames, stepQueueDefinition } from '../resources/definitions.ts';
import type { FunctionName } from '../resources/definitions.ts';

export type AgentOsNodeStackProps = StackProps & {
  settings: NodeSettings;
  /** Where `bundleFunctions` wrote the Lambda bundles. */
  bundlesDir: string;
};

/** The Powertools service name of each function: the one its composition root passes to telemetry. */
const serviceNames = {
  orchestratorApi: 'agent-orchestrator',
  orchestratorEvents: 'agent-orchestrator',
  stepWorker: 'agent-orchestrator',
  modelPolicyApi: 'model-policy',
} as const satisfies Record<FunctionName, string>;

/**
 * A node's Secrets Manager names: the service signing key the stack creates, and the prefix under
 * which an operator stores model provider credentials (the catalog's `secretsmanager:` references).
 */
export function nodeSecretNames(nodeId: string) {
  return {
    serviceSigningKey: `agentos/${nodeId}/service-signing-key`,
    providerCredentialsPrefix: `agentos/${nodeId}/providers/`,
  };
}

/** The node's JWT settings as template values: fixed by context, else a parameter of the deployment. */
function jwtTemplateValues(
  stack: Stack,
  jwt: JwtSettings,
): { issuer: string; audience: string; jwksUrl: string } {
  const parameter = (id: string, description: string, allowedPattern: string) =>
    new CfnParameter(stack, id, { type: 'String', description, allowedPattern, minLength: 1 }).valueAsString;
  return {
    issuer: jwt.issuer ?? parameter('JwtIssuer', 'Expected `iss` of every accepted JWT', '.+'),
    audience: jwt.audience ?? parameter('JwtAudience', 'Expected `aud` of every accepted JWT', '.+'),
    jwksUrl:
      jwt.jwksUrl ?? parameter('JwksUrl', 'HTTPS URL of the JWK set that signs accepted JWTs', 'https://.+'),
  };
}

/**
 * One AgentOS node on AWS: the table, the step queue and its DLQ, the run-deadline state machine,
 * the alert sender identity, the Lambda functions and the Orchestrator and Model Policy REST APIs,
 * all built from infra/resources/definitions.ts, the same values the local node is provisioned from.
 * Environment-agnostic: synthesizes offline, with no account or lookups.
 */
export class AgentOsNodeStack extends Stack {
  readonly table: Table;
  readonly stepQueue: Queue;
  readonly stepDeadLetterQueue: Queue;
  readonly runDeadline: StateMachine;
  readonly functions: Record<FunctionName, LambdaFunction>;
  readonly orchestratorApi: ServiceRestApi;
  readonly modelPolicyApi: ServiceRestApi;

  constructor(scope: Construct, id: string, props: AgentOsNodeStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const names = resourceNames(settings.nodeId);
    const removalPolicy = settings.destroyOnRemoval ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

    this.table = new NodeTable(this, 'Table', {
      tableName: names.table,
      destroyOnRemoval: settings.destroyOnRemoval,
    }).table;
    const stepQueues = new StepQueues(this, 'StepQueues', {
      queueName: names.stepQueue,
      deadLetterQueueName: names.stepDeadLetterQueue,
    });
    this.stepQueue = stepQueues.queue;
    this.stepDeadLetterQueue = stepQueues.deadLetterQueue;
    this.runDeadline = new RunDeadlineStateMachine(this, 'RunDeadline', {
      stateMachineName: names.stateMachine,
      stepQueue: this.stepQueue,
    }).stateMachine;

    new EmailIdentity(this, 'AlertSender', { identity: Identity.email(settings.alertSender) });

    const jwt = jwtTemplateValues(this, settings.jwt);
    const signingKey: ISecret =
      settings.serviceSigningKeySecretArn === undefined
        ? new Secret(this, 'ServiceSigningKey', {
            secretName: nodeSecretNames(settings.nodeId).serviceSigningKey,
            description:
              'Private JWK (ES256 or RS256, with kid and alg) the node signs service-to-service tokens with. ' +
              'Replace the generated placeholder with the key; its public half belongs in the JWKS.',
            removalPolicy,
          })
        : Secret.fromSecretCompleteArn(this, 'ServiceSigningKey', settings.serviceSigningKeySecretArn);

    const verifier = {
      AGENTOS_TABLE_NAME: this.table.tableName,
      AGENTOS_JWT_ISSUER: jwt.issuer,
      AGENTOS_JWT_AUDIENCE: jwt.audience,
      AGENTOS_JWKS_URL: jwt.jwksUrl,
    };
    const queues = {
      AGENTOS_TABLE_NAME: this.table.tableName,
      AGENTOS_STEP_QUEUE_URL: this.stepQueue.queueUrl,
      AGENTOS_STATE_MACHINE_ARN: this.runDeadline.stateMachineArn,
    };
    // Each function gets the variables of its own contract; the Model Policy's URL is added to the
    // step worker once that API exists.
    const environments: Record<FunctionName, Record<string, string>> = {
      orchestratorApi: orchestratorHttpEnv.render({ ...queues, ...verifier }),
      orchestratorEvents: orchestratorHttpEnv.render({ ...queues, ...verifier }),
      stepWorker: stepWorkerEnv.render({
        ...queues,
        AGENTOS_JWT_ISSUER: jwt.issuer,
        AGENTOS_JWT_AUDIENCE: jwt.audience,
        AGENTOS_SERVICE_SIGNING_KEY_SECRET_ARN: signingKey.secretArn,
        AGENTOS_STEP_MAX_RECEIVES: String(stepQueueDefinition.maxReceiveCount),
      }),
      modelPolicyApi: modelPolicyEnv.render(verifier),
    };
    const functionNames = Object.keys(functionDefinitions) as FunctionName[];
    this.functions = Object.fromEntries(
      functionNames.map((name) => [
        name,
        new AgentOsFunction(this, name, {
          name,
          bundlesDir: props.bundlesDir,
          serviceName: serviceNames[name],
          environment: environments[name],
          logRetention: settings.logRetention,
          removalPolicy,
        }).function,
      ]),
    ) as Record<FunctionName, LambdaFunction>;

    this.grantLeastPrivilege(signingKey, nodeSecretNames(settings.nodeId).providerCredentialsPrefix);
    this.functions.stepWorker.addEventSource(
      new SqsEventSource(this.stepQueue, {
        batchSize: functionDefinitions.stepWorker.batchSize,
        reportBatchItemFailures: true,
      }),
    );

    this.modelPolicyApi = new ServiceRestApi(this, 'ModelPolicyApi', {
      api: 'modelPolicy',
      restApiName: `agentos-${settings.nodeId}-model-policy`,
      functions: this.functions,
    });
    this.orchestratorApi = new ServiceRestApi(this, 'OrchestratorApi', {
      api: 'orchestrator',
      restApiName: `agentos-${settings.nodeId}-orchestrator`,
      functions: this.functions,
    });
    this.functions.stepWorker.addEnvironment(
      stepWorkerEnv.names.AGENTOS_MODEL_POLICY_URL,
      this.modelPolicyApi.url,
    );

    this.outputs(signingKey);
  }

  /** Each function gets what its composition root uses, and nothing else. */
  private grantLeastPrivilege(signingKey: ISecret, providerCredentialsPrefix: string): void {
    const { orchestratorApi, orchestratorEvents, stepWorker, modelPolicyApi } = this.functions;
    this.table.grantReadWriteData(orchestratorApi);
    this.stepQueue.grantSendMessages(orchestratorApi);

    this.table.grantReadData(orchestratorEvents);

    this.table.grantReadWriteData(stepWorker);
    this.stepQueue.grantSendMessages(stepWorker);
    this.runDeadline.grantStartExecution(stepWorker);
    signingKey.grantRead(stepWorker);

    this.table.grantReadWriteData(modelPolicyApi);
    // Provider credentials are `secretsmanager:` references in the model catalog; they live under
    // the node's prefix, so the gateway can read them and no other secret.
    modelPolicyApi.addToRolePolicy(
      new PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [
          `arn:${Aws.PARTITION}:secretsmanager:${Aws.REGION}:${Aws.ACCOUNT_ID}:secret:${providerCredentialsPrefix}*`,
        ],
      }),
    );
    // Converse and ConverseStream are authorised as InvokeModel / InvokeModelWithResponseStream.
    modelPolicyApi.addToRolePolicy(
      new PolicyStatement({
        actions: ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'],
        resources: [
          `arn:${Aws.PARTITION}:bedrock:*::foundation-model/*`,
          `arn:${Aws.PARTITION}:bedrock:*:${Aws.ACCOUNT_ID}:inference-profile/*`,
        ],
      }),
    );
  }

  private outputs(signingKey: ISecret): void {
    new CfnOutput(this, 'OrchestratorApiUrl', { value: this.orchestratorApi.url });
    new CfnOutput(this, 'ModelPolicyApiUrl', { value: this.modelPolicyApi.url });
    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'StepQueueUrl', { value: this.stepQueue.queueUrl });
    new CfnOutput(this, 'StepDeadLetterQueueUrl', { value: this.stepDeadLetterQueue.queueUrl });
    new CfnOutput(this, 'RunDeadlineStateMachineArn', { value: this.runDeadline.stateMachineArn });
    new CfnOutput(this, 'ServiceSigningKeySecretArn', { value: signingKey.secretArn });
  }
}
