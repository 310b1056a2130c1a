import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Aws, CfnOutput, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { CfnResource, StackProps } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { CfnStage } from 'aws-cdk-lib/aws-apigateway';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { corsEnv } from '../../functions/shared/http/cors.ts';
import type { NodeSettings } from '../config/node-settings.ts';
import { bundleDirectory } from '../build/bundle-layout.ts';
import { jwtVerifierEnv, serviceTokenEnv } from '../../functions/shared/auth/auth-config.ts';
import type { TrustedIssuersSetting } from '../../functions/shared/auth/auth-config.ts';
import { ModelCatalogSchema } from '../../functions/model-policy/schemas/model-catalog.ts';
import { AgentOsFunction } from '../constructs/agentos-function.ts';
import { HealthProbe } from '../constructs/health-probe.ts';
import {
  AlertNotifierWiring,
  alertNotifierDeadLetterReason,
  alertNotifierEnvironment,
} from '../constructs/alert-notifier.ts';
import { NodeAlarms } from '../constructs/node-alarms.ts';
import { NodeTable } from '../constructs/node-table.ts';
import { RunDeadlineStateMachine } from '../constructs/run-deadline-state-machine.ts';
import { ServiceRestApi } from '../constructs/service-rest-api.ts';
import { SettlementQueues } from '../constructs/settlement-queues.ts';
import { StepQueues } from '../constructs/step-queues.ts';
import {
  modelPolicyEnv,
  settlementWorkerEnv,
} from '../../functions/model-policy/composition/model-policy-config.ts';
import {
  orchestratorHttpEnv,
  stepWorkerEnv,
} from '../../functions/orchestrator/composition/orchestrator-config.ts';
import {
  functionDefinitions,
  longRunStateMachineDefinition,
  resourceNames,
  stepQueueDefinition,
} from '../resources/definitions.ts';
import type { FunctionName } from '../resources/definitions.ts';

export type AgentOsNodeStackProps = StackProps & {
  settings: NodeSettings;
  /** Where `bundleFunctions` wrote the Lambda bundles. */
  bundlesDir: string;
};

/** The most step worker invocations the step queue's event source mapping runs at once. */
const stepWorkerMaxConcurrency = 10;

/**
 * The most settlement worker invocations at once (2, the least a mapping may set): a backlog built
 * up while the table refused writes is written back at a bounded pace, leaving the table's
 * throughput to the live calls that recover with it.
 */
const settlementWorkerMaxConcurrency = 2;

/** The Powertools service name of each function: the one its composition root passes to telemetry. */
const serviceNames = {
  orchestratorApi: 'agent-orchestrator',
  orchestratorEvents: 'agent-orchestrator',
  stepWorker: 'agent-orchestrator',
  modelPolicyApi: 'model-policy',
  settlementWorker: 'model-policy',
  alertNotifier: 'alert-notifier',
} as const satisfies Record<FunctionName, string>;

/**
 * A node's Secrets Manager names: its signing key set (created by `agentos up`, outside the stack,
 * so it outlives a `nuke` and a re-deploy keeps verifying tokens already issued), and the prefix under
 * which an operator stores model provider credentials (the catalog's `secretsmanager:` references).
 */
export function nodeSecretNames(nodeId: string) {
  return {
    serviceSigningKey: `agentos/${nodeId}/service-signing-key`,
    providerCredentialsPrefix: `agentos/${nodeId}/providers/`,
    /** HTTP tools' credentials: `<prefix>/<tenant_id>/<secret>`, read by the step worker only. */
    toolSecretsPrefix: `agentos/${nodeId}/tools`,
  };
}

/** Where the Model Policy finds a catalog shipped with its code (relative to the bundle). */
export const shippedCatalogFileName = 'model-catalog.json';

/**
 * Validates the operator's catalog and puts it next to the Model Policy's bundle, so it ships in the
 * function's code (a Lambda environment holds only 4 KB in all); without one, a stale copy is removed.
 */
function shipModelCatalog(bundlesDir: string, catalogFile: string | undefined): boolean {
  const target = join(bundleDirectory(bundlesDir, 'modelPolicyApi'), shippedCatalogFileName);
  if (catalogFile === undefined) {
    rmSync(target, { force: true });
    return false;
  }
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(catalogFile, 'utf8'));
  } catch (cause) {
    throw new Error(`The model catalog ${catalogFile} cannot be read as JSON`, { cause });
  }
  const parsed = ModelCatalogSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `The model catalog ${catalogFile} is invalid at ${issue?.path.join('.') ?? '?'}: ${issue?.message ?? ''}`,
    );
  }
  writeFileSync(target, JSON.stringify(value, null, 2));
  return true;
}

/**
 * One AgentOS node on AWS: the table, the step and deadline queues and their DLQ, the settlement
 * queue and its DLQ, the run-deadline and long-run state machines,
 * the Lambda functions and the Orchestrator and Model Policy REST APIs, all built from
 * infra/resources/definitions.ts, the same values the local node is provisioned from. The node's
 * signing keys and the alert sender's SES identity live outside it (`agentos up` creates them).
 * Environment-agnostic: synthesizes offline, with no account or lookups.
 */
export class AgentOsNodeStack extends Stack {
  readonly table: Table;
  readonly stepQueue: Queue;
  readonly stepDeadLetterQueue: Queue;
  /** Runs' deadlines of at most 15 minutes, each one delayed message (HLD §4.3). */
  readonly deadlineQueue: Queue;
  /** Model call settlements the table refused, for the settlement worker (HLD §5.3). */
  readonly settlementQueue: Queue;
  readonly settlementDeadLetterQueue: Queue;
  readonly runDeadline: StateMachine;
  /** Drives the steps of `long` runs (task tokens, heartbeats, waits). */
  readonly longRun: StateMachine;
  readonly functions: Record<FunctionName, LambdaFunction>;
  readonly orchestratorApi: ServiceRestApi;
  readonly modelPolicyApi: ServiceRestApi;
  /** The baseline alarms (HLD §9.3), their topic and the node's dashboard. */
  readonly alarms: NodeAlarms;
  /** The schedule that gives the service_down alarm its health checks. */
  readonly healthProbe: HealthProbe;
  /** The `iss` of the node's own tokens: its Orchestrator's base URL. */
  nodeIssuer = '';
  /** The key this deployment signs with: the first it publishes. */
  readonly signingKid: string;

  constructor(scope: Construct, id: string, props: AgentOsNodeStackProps) {
    super(scope, id, props);
    const { settings } = props;
    this.signingKid = String(settings.keys.jwks.keys[0]?.kid);
    // Queues and the state machine are named per stack instance: SQS refuses a queue name for 60 s
    // after its deletion, and a deleted state machine keeps its name while executions still wait,
    // so `nuke` then `up` must not reuse them. The suffix is the start of the stack's own id.
    const instance = Fn.select(0, Fn.split('-', Fn.select(2, Fn.split('/', Aws.STACK_ID))));
    const base = resourceNames(settings.nodeId);
    const names = {
      stepQueue: `${base.stepQueue}-${instance}`,
      stepDeadLetterQueue: `${base.stepDeadLetterQueue}-${instance}`,
      deadlineQueue: `${base.deadlineQueue}-${instance}`,
      settlementQueue: `${base.settlementQueue}-${instance}`,
      settlementDeadLetterQueue: `${base.settlementDeadLetterQueue}-${instance}`,
      stateMachine: `${base.stateMachine}-${instance}`,
      longRunStateMachine: `${base.longRunStateMachine}-${instance}`,
    };
    const removalPolicy = settings.destroyOnRemoval ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

    this.table = new NodeTable(this, 'Table', {
      destroyOnRemoval: settings.destroyOnRemoval,
    }).table;
    const stepQueues = new StepQueues(this, 'StepQueues', {
      queueName: names.stepQueue,
      deadLetterQueueName: names.stepDeadLetterQueue,
      deadlineQueueName: names.deadlineQueue,
    });
    this.stepQueue = stepQueues.queue;
    this.stepDeadLetterQueue = stepQueues.deadLetterQueue;
    this.deadlineQueue = stepQueues.deadlineQueue;
    const settlementQueues = new SettlementQueues(this, 'SettlementQueues', {
      queueName: names.settlementQueue,
      deadLetterQueueName: names.settlementDeadLetterQueue,
    });
    this.settlementQueue = settlementQueues.queue;
    this.settlementDeadLetterQueue = settlementQueues.deadLetterQueue;
    this.runDeadline = new RunDeadlineStateMachine(this, 'RunDeadline', {
      stateMachineName: names.stateMachine,
      stepQueue: this.stepQueue,
      logRetention: settings.logRetention,
      removalPolicy,
    }).stateMachine;
    this.longRun = new RunDeadlineStateMachine(this, 'LongRun', {
      stateMachineName: names.longRunStateMachine,
      stepQueue: this.stepQueue,
      definition: longRunStateMachineDefinition,
      logRetention: settings.logRetention,
      removalPolicy,
    }).stateMachine;

    const signingKey: ISecret = Secret.fromSecretCompleteArn(
      this,
      'ServiceSigningKey',
      settings.keys.signingKeySecretArn,
    );
    const catalogShipped = shipModelCatalog(props.bundlesDir, settings.modelCatalogFile);

    // The trusted issuers need the node's own issuer, the Orchestrator's URL, so they are added
    // once the APIs exist (below); these are the settings known up front.
    const audience = { AGENTOS_JWT_AUDIENCE: settings.audience };
    const nodeJwks = { AGENTOS_NODE_JWKS: JSON.stringify(settings.keys.jwks) };
    const queues = {
      AGENTOS_TABLE_NAME: this.table.tableName,
      AGENTOS_STEP_QUEUE_URL: this.stepQueue.queueUrl,
      AGENTOS_DEADLINE_QUEUE_URL: this.deadlineQueue.queueUrl,
      AGENTOS_STATE_MACHINE_ARN: this.runDeadline.stateMachineArn,
      AGENTOS_LONG_RUN_STATE_MACHINE_ARN: this.longRun.stateMachineArn,
      // The node's run capacity (HLD §10.2): the API refuses or queues by it, the worker starts by it.
      ...(settings.nodeMaxConcurrentRuns === undefined
        ? {}
        : { AGENTOS_NODE_MAX_CONCURRENT_RUNS: String(settings.nodeMaxConcurrentRuns) }),
      ...(settings.nodeCapacityMode === undefined
        ? {}
        : { AGENTOS_NODE_CAPACITY_MODE: settings.nodeCapacityMode }),
    };
    // The node's signing key: the step worker signs service tokens, the tenant admin API issues
    // principals' tokens. The first published key is the active one; see the variable's contract.
    const signing = {
      AGENTOS_SERVICE_SIGNING_KEY_SECRET_ARN: signingKey.secretArn,
      AGENTOS_SERVICE_SIGNING_KID: this.signingKid,
    };
    // The client certificate outgoing federation calls present to peers behind mutual TLS (HLD §7.1).
    const peerCertificate =
      settings.federationClientCertSecretArn === undefined
        ? {}
        : { AGENTOS_FEDERATION_CLIENT_CERT_SECRET_ARN: settings.federationClientCertSecretArn };
    // Browsers' cross-origin access to both APIs (CORS), off unless the node lists origins.
    const cors = corsEnv.render({
      ...(settings.cors.allowedOrigins.length === 0
        ? {}
        : {
            AGENTOS_CORS_ALLOWED_ORIGINS: settings.cors.allowedOrigins.join(','),
            AGENTOS_CORS_ALLOW_CREDENTIALS: String(settings.cors.allowCredentials),
          }),
    });
    // Each function gets the variables of its own contract; the Model Policy's URL is added to the
    // step worker once that API exists.
    const environments: Record<FunctionName, Record<string, string>> = {
      orchestratorApi: orchestratorHttpEnv.render({
        ...queues,
        ...audience,
        ...nodeJwks,
        ...signing,
        ...cors,
        ...peerCertificate,
      }),
      orchestratorEvents: orchestratorHttpEnv.render({
        ...queues,
        ...audience,
        ...nodeJwks,
        ...signing,
        ...cors,
        ...peerCertificate,
      }),
      stepWorker: stepWorkerEnv.render({
        ...queues,
        ...audience,
        ...signing,
        ...peerCertificate,
        AGENTOS_STEP_MAX_RECEIVES: String(stepQueueDefinition.maxReceiveCount),
        AGENTOS_TOOL_SECRET_PREFIX: nodeSecretNames(settings.nodeId).toolSecretsPrefix,
        // Unset unless the operator allow-listed destinations: the SSRF policy then refuses them all.
        ...(settings.toolAllowedHosts.length === 0
          ? {}
          : { AGENTOS_TOOL_ALLOWED_HOSTS: settings.toolAllowedHosts.join(',') }),
      }),
      modelPolicyApi: modelPolicyEnv.render({
        AGENTOS_TABLE_NAME: this.table.tableName,
        ...audience,
        ...cors,
        ...(catalogShipped ? { AGENTOS_MODEL_CATALOG_FILE: shippedCatalogFileName } : {}),
        AGENTOS_SETTLEMENT_QUEUE_URL: this.settlementQueue.queueUrl,
      }),
      settlementWorker: settlementWorkerEnv.render({ AGENTOS_TABLE_NAME: this.table.tableName }),
      alertNotifier: alertNotifierEnvironment(settings.nodeId, this.table.tableName, settings.alerts),
    };
    const functionNames = Object.keys(functionDefinitions) as FunctionName[];
    this.functions = Object.fromEntries(
      functionNames.map((name) => [
        name,
        new AgentOsFunction(this, name, {
          name,
          bundlesDir: props.bundlesDir,
          serviceName: serviceNames[name],
          nodeId: settings.nodeId,
          environment: environments[name],
          logRetention: settings.logRetention,
          removalPolicy,
          ...(name === 'alertNotifier' ? { deadLetterReason: alertNotifierDeadLetterReason } : {}),
        }).function,
      ]),
    ) as Record<FunctionName, LambdaFunction>;

    this.grantLeastPrivilege(
      signingKey,
      nodeSecretNames(settings.nodeId),
      settings.federationClientCertSecretArn,
    );
    this.functions.stepWorker.addEventSource(
      new SqsEventSource(this.stepQueue, {
        batchSize: functionDefinitions.stepWorker.batchSize,
        reportBatchItemFailures: true,
        // Bounds the step workers running at once (each on up to batchSize steps), so a burst of
        // runs cannot take the account's Lambda concurrency or the table's and models' throughput.
        maxConcurrency: stepWorkerMaxConcurrency,
      }),
    );
    // Due deadlines reach the same worker, which fails the runs still going (HLD §4.3).
    this.functions.stepWorker.addEventSource(
      new SqsEventSource(this.deadlineQueue, {
        batchSize: functionDefinitions.stepWorker.batchSize,
        reportBatchItemFailures: true,
        maxConcurrency: stepWorkerMaxConcurrency,
      }),
    );
    // Settlements the Model Policy could not write reach the ledger through their own worker (HLD §5.3).
    this.functions.settlementWorker.addEventSource(
      new SqsEventSource(this.settlementQueue, {
        batchSize: functionDefinitions.settlementWorker.batchSize,
        reportBatchItemFailures: true,
        maxConcurrency: settlementWorkerMaxConcurrency,
      }),
    );

    this.modelPolicyApi = new ServiceRestApi(this, 'ModelPolicyApi', {
      api: 'modelPolicy',
      restApiName: `agentos-${settings.nodeId}-model-policy`,
      functions: this.functions,
      logRetention: settings.logRetention,
      removalPolicy,
    });
    this.orchestratorApi = new ServiceRestApi(this, 'OrchestratorApi', {
      api: 'orchestrator',
      restApiName: `agentos-${settings.nodeId}-orchestrator`,
      functions: this.functions,
      logRetention: settings.logRetention,
      removalPolicy,
      // Peers, like every client, then reach the Orchestrator only with a trusted client certificate (HLD §7.1).
      ...(settings.federationMtls === undefined ? {} : { mutualTls: settings.federationMtls }),
    });
    this.functions.stepWorker.addEnvironment(
      stepWorkerEnv.names.AGENTOS_MODEL_POLICY_URL,
      this.modelPolicyApi.url,
    );
    this.addTrust(settings);
    this.alarms = new NodeAlarms(this, 'Alarms', {
      nodeId: settings.nodeId,
      overrides: settings.alarmOverrides,
      stepQueue: this.stepQueue,
      stepDeadLetterQueue: this.stepDeadLetterQueue,
      deadlineQueue: this.deadlineQueue,
      settlementQueue: this.settlementQueue,
      settlementDeadLetterQueue: this.settlementDeadLetterQueue,
      apiLogGroups: (['orchestratorApi', 'orchestratorEvents', 'modelPolicyApi'] as const).map(
        (name) => this.functions[name].logGroup,
      ),
    });
    new AlertNotifierWiring(this, 'AlertNotifier', {
      notifier: this.functions.alertNotifier,
      topic: this.alarms.topic,
      table: this.table,
      alerts: settings.alerts,
    });

    this.healthProbe = new HealthProbe(this, 'HealthProbe', {
      functions: [this.functions.orchestratorApi, this.functions.modelPolicyApi],
    });

    this.outputs(signingKey);
  }

  /**
   * The node's issuer is its Orchestrator's base URL (HLD §3.3), where its JWKS is published. It is
   * built from the REST API's id, not its deployment URL: the deployment depends on the functions,
   * which could then not hold the URL. Verifiers trust the node (its public keys inline, so no call
   * is needed to check a service token) and the external identity provider when there is one.
   */
  private addTrust(settings: NodeSettings): void {
    const api = this.orchestratorApi.restApi;
    // The stage's name as written in the template: its `stageName` attribute would be a reference
    // to the stage resource, which depends on the functions.
    const stageName = (api.deploymentStage.node.defaultChild as CfnStage).stageName;
    // Behind mutual TLS the default endpoint is disabled: the node is its custom domain, mapped to the stage.
    this.nodeIssuer =
      settings.federationMtls === undefined
        ? `https://${api.restApiId}.execute-api.${Aws.REGION}.${Aws.URL_SUFFIX}/${stageName}`
        : `https://${settings.federationMtls.domainName}`;
    const trusted: TrustedIssuersSetting = [
      { issuer: this.nodeIssuer, jwks: settings.keys.jwks as { keys: Record<string, unknown>[] } },
    ];
    if (settings.identityProvider !== undefined) {
      trusted.push({ issuer: settings.identityProvider.issuer, jwks_url: settings.identityProvider.jwksUrl });
    }
    const trustedIssuers = Stack.of(this).toJsonString(trusted);
    for (const name of ['orchestratorApi', 'orchestratorEvents', 'modelPolicyApi'] as const) {
      this.functions[name].addEnvironment(jwtVerifierEnv.names.AGENTOS_TRUSTED_ISSUERS, trustedIssuers);
    }
    for (const name of ['stepWorker', 'orchestratorApi', 'orchestratorEvents'] as const) {
      this.functions[name].addEnvironment(serviceTokenEnv.names.AGENTOS_NODE_ISSUER, this.nodeIssuer);
    }
    // The same URL is where clients reach the runs API: runs' absolute events URLs start with it.
    for (const name of ['orchestratorApi', 'orchestratorEvents'] as const) {
      this.functions[name].addEnvironment(orchestratorHttpEnv.names.AGENTOS_PUBLIC_API_URL, this.nodeIssuer);
    }
  }

  /** Each function gets what its composition root uses, and nothing else. */
  private grantLeastPrivilege(
    signingKey: ISecret,
    secretNames: ReturnType<typeof nodeSecretNames>,
    peerCertificateArn: string | undefined,
  ): void {
    const { providerCredentialsPrefix, toolSecretsPrefix } = secretNames;
    const { orchestratorApi, orchestratorEvents, stepWorker, modelPolicyApi, settlementWorker } =
      this.functions;
    this.table.grantReadWriteData(orchestratorApi);
    this.stepQueue.grantSendMessages(orchestratorApi);
    // The operator's capacity report reads the step queue's depth (HLD §10.2 backpressure).
    this.stepQueue.grant(orchestratorApi, 'sqs:GetQueueAttributes');
    // Creating a long run starts its execution; canceling it stops the execution.
    this.longRun.grantStartExecution(orchestratorApi);
    this.longRun.grantExecution(orchestratorApi, 'states:StopExecution');

    // Issuing a principal's token signs it with the node's key.
    signingKey.grantRead(orchestratorApi);

    // An open event stream holds a lease on one of its tenant's stream slots (HLD §5.2).
    this.table.grantReadWriteData(orchestratorEvents);
    // A background response's answer carries its events URL with a stream token signed by the node's key.
    signingKey.grantRead(orchestratorEvents);
    // A2A's message/send and message/stream create runs and tasks/cancel cancels them, as the runs API does.
    this.stepQueue.grantSendMessages(orchestratorEvents);
    this.longRun.grantStartExecution(orchestratorEvents);
    this.longRun.grantExecution(orchestratorEvents, 'states:StopExecution');

    this.table.grantReadWriteData(stepWorker);
    this.stepQueue.grantSendMessages(stepWorker);
    // A run's first step schedules its deadline: a delayed message for up to 15 minutes, the
    // run-deadline state machine beyond (HLD §4.3). The worker's event source consumes the queue.
    this.deadlineQueue.grantSendMessages(stepWorker);
    this.runDeadline.grantStartExecution(stepWorker);
    // The worker answers a long run's step tasks, and stops the execution of a run it times out.
    this.longRun.grantTaskResponse(stepWorker);
    this.longRun.grantExecution(stepWorker, 'states:StopExecution');
    this.acknowledgeLongRunExecutions([orchestratorApi, orchestratorEvents, stepWorker]);
    signingKey.grantRead(stepWorker);
    // Forwards (the API) and event pushes (every function that commits a run's events) present the
    // node's client certificate to peers behind mutual TLS, when one is configured (HLD §7.1).
    if (peerCertificateArn !== undefined) {
      const certificate = Secret.fromSecretCompleteArn(
        this,
        'FederationClientCertificate',
        peerCertificateArn,
      );
      for (const fn of [orchestratorApi, orchestratorEvents, stepWorker]) certificate.grantRead(fn);
    }
    // HTTP tools' credentials (HLD §10.1): the tenants' secrets under the node's tool prefix, and no other.
    const toolSecrets = `arn:${Aws.PARTITION}:secretsmanager:${Aws.REGION}:${Aws.ACCOUNT_ID}:secret:${toolSecretsPrefix}/*`;
    stepWorker.addToRolePolicy(
      new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [toolSecrets] }),
    );
    Validations.of(stepWorker.role ?? stepWorker).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:${toolSecretsPrefix}/*]`,
      reason:
        'HTTP tools name their credentials, which each tenant stores after deployment under the node’s tool ' +
        'prefix and its own tenant id (the step worker builds the name from the caller’s tenant, never from the ' +
        'tool); Secrets Manager appends a random suffix to every secret ARN, so the prefix wildcard is the ' +
        'narrowest grant that covers them.',
    });

    this.table.grantReadWriteData(modelPolicyApi);
    // A settlement the table keeps refusing is handed to the settlement queue (HLD §5.3); the
    // settlement worker writes it to the ledger, and its event source consumes the queue.
    this.settlementQueue.grantSendMessages(modelPolicyApi);
    this.table.grantReadWriteData(settlementWorker);
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
    const bedrockReason =
      "The Model Policy calls whichever Bedrock foundation models and inference profiles the operator's " +
      'model catalog lists (a cross-region profile may serve a call from any region); its allow/deny ' +
      'policy, not IAM, decides which of them a tenant may use.';
    Validations.of(modelPolicyApi.role ?? modelPolicyApi).acknowledge(
      {
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:${providerCredentialsPrefix}*]`,
        reason:
          "Provider credentials are the model catalog's `secretsmanager:` references, which the operator " +
          "adds after deployment under the node's own prefix; Secrets Manager appends a random suffix to " +
          'every secret ARN, so the prefix wildcard is the narrowest grant that covers them.',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/*]',
        reason: bedrockReason,
      },
      {
        id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*:<AWS::AccountId>:inference-profile/*]',
        reason: bedrockReason,
      },
    );
  }

  /**
   * StopExecution names an execution, and a long run's execution is named after its run, which
   * does not exist at deploy time: the grant covers every execution of the long-run state machine,
   * and no other.
   */
  private acknowledgeLongRunExecutions(functions: LambdaFunction[]): void {
    const machineId = this.getLogicalId(this.longRun.node.defaultChild as CfnResource);
    const executions =
      'arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:' +
      `{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${machineId}"}]}]}:*`;
    for (const fn of functions) {
      Validations.of(fn.role ?? fn).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${executions}]`,
        reason:
          "A long run's Step Functions execution is named after the run, so stopping it (a cancel, a " +
          'run timeout) needs the executions of the long-run state machine; the grant names that machine.',
      });
    }
  }

  private outputs(signingKey: ISecret): void {
    new CfnOutput(this, 'OrchestratorApiUrl', { value: this.orchestratorApi.url });
    new CfnOutput(this, 'ModelPolicyApiUrl', { value: this.modelPolicyApi.url });
    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'StepQueueUrl', { value: this.stepQueue.queueUrl });
    new CfnOutput(this, 'StepDeadLetterQueueUrl', { value: this.stepDeadLetterQueue.queueUrl });
    new CfnOutput(this, 'DeadlineQueueUrl', { value: this.deadlineQueue.queueUrl });
    new CfnOutput(this, 'SettlementQueueUrl', { value: this.settlementQueue.queueUrl });
    new CfnOutput(this, 'SettlementDeadLetterQueueUrl', { value: this.settlementDeadLetterQueue.queueUrl });
    new CfnOutput(this, 'RunDeadlineStateMachineArn', { value: this.runDeadline.stateMachineArn });
    new CfnOutput(this, 'LongRunStateMachineArn', { value: this.longRun.stateMachineArn });
    new CfnOutput(this, 'ServiceSigningKeySecretArn', { value: signingKey.secretArn });
    new CfnOutput(this, 'NodeIssuer', { value: this.nodeIssuer });
    const domain = this.orchestratorApi.restApi.domainName;
    if (domain !== undefined)
      // Behind mutual TLS the node is its custom domain: its DNS record points here.
      new CfnOutput(this, 'OrchestratorRegionalDomainName', { value: domain.domainNameAliasDomainName });
    new CfnOutput(this, 'ServiceSigningKid', { value: this.signingKid });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn });
    new CfnOutput(this, 'StepWorkerFunctionName', { value: this.functions.stepWorker.functionName });
    new CfnOutput(this, 'SettlementWorkerFunctionName', {
      value: this.functions.settlementWorker.functionName,
    });
    new CfnOutput(this, 'AlertNotifierFunctionName', {
      value: this.functions.alertNotifier.functionName,
    });
    // `validate --test-alert` reads the notifier's log for the proof that it sent the e-mail.
    new CfnOutput(this, 'AlertNotifierLogGroupName', {
      value: this.functions.alertNotifier.logGroup.logGroupName,
    });
  }
}
