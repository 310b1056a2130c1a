import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CfnResource } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { contextKeys } from '../../infra/config/node-settings.ts';
import { bundlesDirContextKey, nodeStackName } from '../../infra/node-app.ts';
import {
  functionDefinitions,
  deadlineQueueDefinition,
  settlementDeadLetterQueueDefinition,
  settlementQueueDefinition,
  stepQueueDefinition,
  tableDefinition,
} from '../../infra/resources/definitions.ts';
import type { FunctionName } from '../../infra/resources/definitions.ts';
import { corsEnv } from '../../functions/shared/http/cors.ts';
import { modelPolicyEnv } from '../../functions/model-policy/composition/model-policy-config.ts';
import { functionEnvironments } from '../../infra/resources/function-environments.ts';
import { nodeSecretNames } from '../../infra/stacks/agentos-node-stack.ts';
import type { AgentOsNodeStack } from '../../infra/stacks/agentos-node-stack.ts';
import {
  environmentOf,
  functionResource,
  resourcesOfType,
  nodeKeyContext,
  runCdk,
  sampleNodeJwks,
  sampleSigningKeySecretArn,
  synthesizeNodeStack,
} from './node-template.ts';
import type { TemplateResource } from './node-template.ts';

const functionNames = Object.keys(functionDefinitions) as FunctionName[];

function policyStatementsOf(stack: AgentOsNodeStack, template: Template, name: FunctionName): unknown[] {
  const role = stack.functions[name].role?.node.defaultChild as CfnResource;
  const roleId = stack.getLogicalId(role);
  return Object.values(resourcesOfType(template, 'AWS::IAM::Policy'))
    .filter((policy) => JSON.stringify(policy.Properties?.['Roles']).includes(`"${roleId}"`))
    .flatMap((policy) => (policy.Properties?.['PolicyDocument'] as { Statement: unknown[] }).Statement);
}

/** Every API method as `API METHOD /path`, with its integration's transfer mode. */
function methodTransferModes(stack: AgentOsNodeStack, template: Template): Record<string, unknown> {
  const modes: Record<string, unknown> = {};
  const methods = resourcesOfType(template, 'AWS::ApiGateway::Method');
  for (const [api, serviceApi] of [
    ['orchestrator', stack.orchestratorApi],
    ['modelPolicy', stack.modelPolicyApi],
  ] as const) {
    for (const method of serviceApi.restApi.methods) {
      const resource = methods[stack.getLogicalId(method.node.defaultChild as CfnResource)];
      const integration = resource?.Properties?.['Integration'] as Record<string, unknown>;
      modes[`${api} ${method.httpMethod} ${method.resource.path}`] = integration['ResponseTransferMode'];
    }
  }
  return modes;
}

describe('the node stack', () => {
  let stack: AgentOsNodeStack;
  let template: Template;

  beforeAll(async () => {
    ({ stack, template } = await synthesizeNodeStack());
  });

  /** The functions whose role allows `action` on a resource whose JSON holds `resource`. */
  const allowedTo = (action: string, resource: string) =>
    functionNames.filter((name) =>
      policyStatementsOf(stack, template, name).some((statement) => {
        const text = JSON.stringify(statement);
        return text.includes(`"${action}"`) && text.includes(resource);
      }),
    );

  /** The event source mappings that invoke one function. */
  const mappingsOf = (name: FunctionName) => {
    const functionId = stack.getLogicalId(stack.functions[name].node.defaultChild as CfnResource);
    return Object.values(resourcesOfType(template, 'AWS::Lambda::EventSourceMapping')).filter(
      (mapping) =>
        JSON.stringify(mapping.Properties?.['FunctionName']) === JSON.stringify({ Ref: functionId }),
    );
  };

  it('runs every function on nodejs24.x on arm64 with active tracing, sized as defined', () => {
    for (const name of functionNames) {
      expect(functionResource(stack, template, name).Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        TracingConfig: { Mode: 'Active' },
        MemorySize: functionDefinitions[name].memoryMb,
        Timeout: functionDefinitions[name].timeoutSeconds,
      });
    }
  });

  it('streams the run events route, A2A’s JSON-RPC endpoint, background responses and the whole Model Policy API, and buffers the rest', () => {
    expect(methodTransferModes(stack, template)).toEqual({
      'orchestrator GET /v1/runs/{run_id}/events': 'STREAM',
      'orchestrator OPTIONS /v1/runs/{run_id}/events': 'STREAM',
      'orchestrator POST /v1/a2a/{agent_id}': 'STREAM',
      'orchestrator OPTIONS /v1/a2a/{agent_id}': 'STREAM',
      'orchestrator POST /v1/responses': 'STREAM',
      'orchestrator OPTIONS /v1/responses': 'STREAM',
      'orchestrator GET /v1/responses/{response_id}': 'STREAM',
      'orchestrator OPTIONS /v1/responses/{response_id}': 'STREAM',
      'orchestrator ANY /{proxy+}': 'BUFFERED',
      'modelPolicy ANY /{proxy+}': 'STREAM',
    });
  });

  it('invokes streaming functions through the response-streaming Lambda API', () => {
    const methods = Object.values(resourcesOfType(template, 'AWS::ApiGateway::Method'));
    const uris = methods.map((method) => {
      const integration = method.Properties?.['Integration'] as Record<string, unknown>;
      return { mode: integration['ResponseTransferMode'], uri: JSON.stringify(integration['Uri']) };
    });
    for (const { mode, uri } of uris) {
      expect(uri.includes('/response-streaming-invocations')).toBe(mode === 'STREAM');
    }
  });

  it('feeds the step worker from the step and deadline queues in defined batches, reporting batch item failures', () => {
    const queueIds = [stack.stepQueue, stack.deadlineQueue].map((queue) =>
      stack.getLogicalId(queue.node.defaultChild as CfnResource),
    );
    const mappings = mappingsOf('stepWorker');
    expect(mappings).toHaveLength(2);
    for (const [index, queueId] of queueIds.entries()) {
      expect(mappings[index]?.Properties).toMatchObject({
        EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
        BatchSize: functionDefinitions.stepWorker.batchSize,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
    }
  });

  it('feeds the settlement worker from the settlement queue alone in defined batches, reporting batch item failures', () => {
    const queueId = stack.getLogicalId(stack.settlementQueue.node.defaultChild as CfnResource);
    const mappings = mappingsOf('settlementWorker');
    expect(mappings.map((mapping) => mapping.Properties)).toEqual([
      expect.objectContaining({
        EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
        BatchSize: functionDefinitions.settlementWorker.batchSize,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      }),
    ]);
    // Every mapping of the stack is one of the two workers'.
    expect(Object.keys(resourcesOfType(template, 'AWS::Lambda::EventSourceMapping'))).toHaveLength(3);
  });

  it('redrives the step and deadline queues to their DLQ, with every queue encrypted and TLS-only', () => {
    const dlqId = stack.getLogicalId(stack.stepDeadLetterQueue.node.defaultChild as CfnResource);
    const queueId = stack.getLogicalId(stack.stepQueue.node.defaultChild as CfnResource);
    const deadlineQueueId = stack.getLogicalId(stack.deadlineQueue.node.defaultChild as CfnResource);
    const settlementIds = [stack.settlementQueue, stack.settlementDeadLetterQueue].map((queue) =>
      stack.getLogicalId(queue.node.defaultChild as CfnResource),
    );
    const queues = resourcesOfType(template, 'AWS::SQS::Queue');
    expect(Object.keys(queues).sort()).toEqual([queueId, deadlineQueueId, dlqId, ...settlementIds].sort());
    expect(queues[queueId]?.Properties).toMatchObject({
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] },
        maxReceiveCount: stepQueueDefinition.maxReceiveCount,
      },
      SqsManagedSseEnabled: true,
    });
    // A deadline waits out its delay on the queue: it must outlive the longest one (900 s).
    expect(queues[deadlineQueueId]?.Properties).toMatchObject({
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] },
        maxReceiveCount: deadlineQueueDefinition.maxReceiveCount,
      },
      MessageRetentionPeriod: deadlineQueueDefinition.messageRetentionSeconds,
      SqsManagedSseEnabled: true,
    });
    expect(deadlineQueueDefinition.messageRetentionSeconds).toBeGreaterThan(
      deadlineQueueDefinition.maxDelaySeconds,
    );
    expect(queues[dlqId]?.Properties).toMatchObject({ SqsManagedSseEnabled: true });
    const denials = Object.values(resourcesOfType(template, 'AWS::SQS::QueuePolicy')).map((policy) =>
      JSON.stringify(policy.Properties?.['PolicyDocument']),
    );
    expect(denials).toHaveLength(5);
    for (const denial of denials) expect(denial).toContain('"aws:SecureTransport":"false"');
  });

  it('redrives the settlement queue to a dead-letter queue of its own, both encrypted, TLS-only and as defined', () => {
    const [queueId, dlqId] = [stack.settlementQueue, stack.settlementDeadLetterQueue].map((queue) =>
      stack.getLogicalId(queue.node.defaultChild as CfnResource),
    );
    const queues = resourcesOfType(template, 'AWS::SQS::Queue');
    expect(queues[queueId!]?.Properties).toMatchObject({
      VisibilityTimeout: settlementQueueDefinition.visibilityTimeoutSeconds,
      MaximumMessageSize: settlementQueueDefinition.maxMessageSizeBytes,
      MessageRetentionPeriod: settlementQueueDefinition.messageRetentionSeconds,
      ReceiveMessageWaitTimeSeconds: settlementQueueDefinition.receiveMessageWaitTimeSeconds,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] },
        maxReceiveCount: settlementQueueDefinition.maxReceiveCount,
      },
      SqsManagedSseEnabled: true,
    });
    expect(queues[dlqId!]?.Properties).toMatchObject({
      MessageRetentionPeriod: settlementDeadLetterQueueDefinition.messageRetentionSeconds,
      SqsManagedSseEnabled: true,
    });
    const tlsOnly = Object.values(resourcesOfType(template, 'AWS::SQS::QueuePolicy'))
      .filter((policy) => JSON.stringify(policy.Properties?.['Queues']).includes(`"${dlqId}"`))
      .map((policy) => JSON.stringify(policy.Properties?.['PolicyDocument']));
    expect(tlsOnly).toEqual([expect.stringContaining('"aws:SecureTransport":"false"')]);
  });

  it('lets only the Model Policy API send to the settlement queue, and only the settlement worker consume it', () => {
    const queueId = stack.getLogicalId(stack.settlementQueue.node.defaultChild as CfnResource);
    expect(allowedTo('sqs:SendMessage', `"${queueId}"`)).toEqual(['modelPolicyApi']);
    expect(allowedTo('sqs:ReceiveMessage', `"${queueId}"`)).toEqual(['settlementWorker']);
    expect(allowedTo('sqs:DeleteMessage', `"${queueId}"`)).toEqual(['settlementWorker']);
    // The API sends to the queue its environment names: the same resource.
    expect(
      environmentOf(functionResource(stack, template, 'modelPolicyApi'))[
        modelPolicyEnv.names.AGENTOS_SETTLEMENT_QUEUE_URL
      ],
    ).toEqual({ Ref: queueId });
  });

  it('gives the settlement worker the table and no secret, state machine or other queue', () => {
    const statements = JSON.stringify(policyStatementsOf(stack, template, 'settlementWorker'));
    const tableId = stack.getLogicalId(stack.table.node.defaultChild as CfnResource);
    expect(allowedTo('dynamodb:UpdateItem', `"${tableId}"`)).toContain('settlementWorker');
    expect(allowedTo('dynamodb:ConditionCheckItem', `"${tableId}"`)).toContain('settlementWorker');
    for (const action of ['secretsmanager:', 'states:', 'sqs:SendMessage', 'bedrock:'])
      expect(statements).not.toContain(action);
  });

  it('keeps the table with TTL on, point-in-time recovery on, and retained by default', () => {
    const tables = Object.values(resourcesOfType(template, 'AWS::DynamoDB::Table'));
    expect(tables).toHaveLength(1);
    expect(tables[0]).toMatchObject({
      DeletionPolicy: 'Retain',
      Properties: {
        TimeToLiveSpecification: { AttributeName: tableDefinition.timeToLiveAttribute, Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
      },
    });
  });

  it('lets a development node delete its table only with the destroy flag', async () => {
    const dev = await synthesizeNodeStack({ [contextKeys.destroyOnRemoval]: 'true' });
    expect(Object.values(resourcesOfType(dev.template, 'AWS::DynamoDB::Table'))[0]).toMatchObject({
      DeletionPolicy: 'Delete',
      Properties: { DeletionProtectionEnabled: false },
    });
  });

  it('puts no key material in the template: the step worker gets the signing key secret by ARN', () => {
    // The secret is made by `agentos up`, outside the stack, so it outlives a nuke.
    expect(Object.keys(resourcesOfType(template, 'AWS::SecretsManager::Secret'))).toHaveLength(0);
    expect(environmentOf(functionResource(stack, template, 'stepWorker'))).toMatchObject({
      AGENTOS_SERVICE_SIGNING_KEY_SECRET_ARN: sampleSigningKeySecretArn,
      AGENTOS_SERVICE_SIGNING_KID: sampleNodeJwks.keys[0]!.kid,
    });
    for (const name of functionNames) {
      const environment = environmentOf(functionResource(stack, template, name));
      expect(Object.keys(environment)).not.toContain('AGENTOS_SERVICE_SIGNING_KEY');
    }
    const text = JSON.stringify(template.toJSON());
    expect(text).not.toMatch(/\\?"d\\?"\s*:/);
    expect(text).not.toContain('PRIVATE KEY');
    expect(text).not.toMatch(/"SecretString"\s*:/);
  });

  it('lets only the step worker, the API (issuing principals’ tokens) and the events function (minting stream tokens) read the signing key, and only the worker start run-deadline executions', () => {
    const stateMachineId = stack.getLogicalId(stack.runDeadline.node.defaultChild as CfnResource);
    expect(allowedTo('secretsmanager:GetSecretValue', sampleSigningKeySecretArn).sort()).toEqual([
      'orchestratorApi',
      'orchestratorEvents',
      'stepWorker',
    ]);
    expect(allowedTo('states:StartExecution', `"${stateMachineId}"`)).toEqual(['stepWorker']);
    // Deadlines of at most 15 minutes are delayed messages the worker sends and consumes itself.
    const deadlineQueueId = stack.getLogicalId(stack.deadlineQueue.node.defaultChild as CfnResource);
    expect(allowedTo('sqs:SendMessage', `"${deadlineQueueId}"`)).toEqual(['stepWorker']);
    expect(allowedTo('sqs:ReceiveMessage', `"${deadlineQueueId}"`)).toEqual(['stepWorker']);
  });

  it('lets the Orchestrator API and A2A’s endpoint start and stop long runs, and only the step worker answer their step tasks', () => {
    const longRunId = stack.getLogicalId(stack.longRun.node.defaultChild as CfnResource);
    expect(allowedTo('states:StartExecution', `"${longRunId}"`)).toEqual([
      'orchestratorApi',
      'orchestratorEvents',
    ]);
    expect(allowedTo('states:StopExecution', `"${longRunId}"`)).toEqual([
      'orchestratorApi',
      'orchestratorEvents',
      'stepWorker',
    ]);
    for (const action of ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat']) {
      expect(allowedTo(action, `"${longRunId}"`)).toEqual(['stepWorker']);
    }
  });

  it('lets the Model Policy read provider credentials under the node prefix only', () => {
    const secretReads = policyStatementsOf(stack, template, 'modelPolicyApi')
      .map((statement) => JSON.stringify(statement))
      .filter((statement) => statement.includes('secretsmanager:GetSecretValue'));
    expect(secretReads).toHaveLength(1);
    expect(secretReads[0]).toContain(`:secret:${nodeSecretNames('main').providerCredentialsPrefix}*`);
  });

  it('gives the events function the table, to create and cancel runs the step queue and long runs, and of secrets only the signing key', () => {
    const statements = JSON.stringify(policyStatementsOf(stack, template, 'orchestratorEvents'));
    expect(statements).toContain('dynamodb:Query');
    expect(statements).toContain('dynamodb:UpdateItem');
    expect(statements).toContain('sqs:SendMessage');
    expect(statements).not.toContain('sqs:ReceiveMessage');
    const secretReads = policyStatementsOf(stack, template, 'orchestratorEvents')
      .map((statement) => JSON.stringify(statement))
      .filter((statement) => statement.includes('secretsmanager:'));
    expect(secretReads).toHaveLength(1);
    expect(secretReads[0]).toContain(sampleSigningKeySecretArn);
    expect(statements).not.toContain('states:SendTask');
  });

  it('trusts the node itself with its keys inline, and the identity provider when context names one', async () => {
    // The value joins the node's issuer (its API id) with its keys: a CloudFormation join.
    const ownOnly = JSON.stringify(
      environmentOf(functionResource(stack, template, 'modelPolicyApi'))['AGENTOS_TRUSTED_ISSUERS'],
    );
    expect(ownOnly).toContain(sampleNodeJwks.keys[0]!.kid);
    expect(ownOnly).not.toContain('jwks_url');
    const withIdp = await synthesizeNodeStack({
      [contextKeys.identityProviderIssuer]: 'https://issuer.example/',
      [contextKeys.identityProviderJwksUrl]: 'https://issuer.example/jwks.json',
      [contextKeys.audience]: 'agentos-test',
    });
    for (const name of ['orchestratorApi', 'orchestratorEvents', 'modelPolicyApi'] as const) {
      const env = environmentOf(functionResource(withIdp.stack, withIdp.template, name));
      expect(JSON.stringify(env['AGENTOS_TRUSTED_ISSUERS'])).toContain(
        '{\\"issuer\\":\\"https://issuer.example/\\",\\"jwks_url\\":\\"https://issuer.example/jwks.json\\"}',
      );
      expect(env['AGENTOS_JWT_AUDIENCE']).toBe('agentos-test');
    }
    const worker = environmentOf(functionResource(withIdp.stack, withIdp.template, 'stepWorker'));
    // Service tokens carry the node's issuer (its Orchestrator URL), never the identity provider's.
    expect(JSON.stringify(worker['AGENTOS_NODE_ISSUER'])).toContain('execute-api');
    expect(worker['AGENTOS_SERVICE_SIGNING_KEY_SECRET_ARN']).toBe(sampleSigningKeySecretArn);
    expect(Object.keys(resourcesOfType(withIdp.template, 'AWS::SecretsManager::Secret'))).toHaveLength(0);
  });

  it('leaves CORS off by default, and sets the listed origins on every API function when context names them', async () => {
    const { AGENTOS_CORS_ALLOWED_ORIGINS, AGENTOS_CORS_ALLOW_CREDENTIALS } = corsEnv.names;
    const apis = ['orchestratorApi', 'orchestratorEvents', 'modelPolicyApi'] as const;
    for (const name of apis) {
      expect(environmentOf(functionResource(stack, template, name))).not.toHaveProperty(
        AGENTOS_CORS_ALLOWED_ORIGINS,
      );
    }
    const withCors = await synthesizeNodeStack({
      [contextKeys.corsAllowedOrigins]: 'https://app.example.com,http://localhost:3000',
      [contextKeys.corsAllowCredentials]: 'true',
    });
    for (const name of apis) {
      const env = environmentOf(functionResource(withCors.stack, withCors.template, name));
      expect(env[AGENTOS_CORS_ALLOWED_ORIGINS]).toBe('https://app.example.com,http://localhost:3000');
      expect(env[AGENTOS_CORS_ALLOW_CREDENTIALS]).toBe('true');
    }
    await expect(
      synthesizeNodeStack({ [contextKeys.corsAllowedOrigins]: 'https://app.example.com/path' }),
    ).rejects.toThrow(contextKeys.corsAllowedOrigins);
  });

  it('refuses an identity provider JWKS over plain HTTP unless it is on this machine', async () => {
    const idp = (jwksUrl: string) =>
      synthesizeNodeStack({
        [contextKeys.identityProviderIssuer]: 'https://issuer.example/',
        [contextKeys.identityProviderJwksUrl]: jwksUrl,
      });
    await expect(idp('http://issuer.example/jwks.json')).rejects.toThrow('must be an https URL');
    await expect(idp('http://127.0.0.1:9999/jwks.json')).resolves.toBeDefined();
  });

  it('gives two stages no physical name in common, so they deploy side by side in one account', async () => {
    const physicalNames = (json: Record<string, unknown>) =>
      Object.values((json['Resources'] ?? {}) as Record<string, TemplateResource>).flatMap((resource) =>
        Object.entries(resource.Properties ?? {})
          // An inline policy's name is its role's, a stage's its API's: neither is account-wide; an
          // alarm's metric name names what it reads, not a resource.
          .filter(([key]) => /Name$/.test(key) && !['PolicyName', 'StageName', 'MetricName'].includes(key))
          .filter(([, value]) => typeof value === 'string')
          .map(([key, value]) => `${resource.Type}.${key}=${String(value)}`),
      );
    const other = await synthesizeNodeStack({ [contextKeys.nodeId]: 'qa' });
    const mine = physicalNames(template.toJSON());
    expect(mine.length).toBeGreaterThan(0);
    const theirs = new Set(physicalNames(other.template.toJSON()));
    expect(mine.filter((name) => theirs.has(name))).toEqual([]);
  });

  it('passes the tool allow-list to the step worker only, and leaves it unset by default', async () => {
    expect(environmentOf(functionResource(stack, template, 'stepWorker'))).toMatchObject({
      AGENTOS_TOOL_SECRET_PREFIX: nodeSecretNames('main').toolSecretsPrefix,
    });
    expect(Object.keys(environmentOf(functionResource(stack, template, 'stepWorker')))).not.toContain(
      'AGENTOS_TOOL_ALLOWED_HOSTS',
    );
    const allowing = await synthesizeNodeStack({
      [contextKeys.toolAllowedHosts]: '127.0.0.1:8799, [::1]:8799,Tools.Internal:443',
    });
    for (const name of functionNames) {
      const environment = environmentOf(functionResource(allowing.stack, allowing.template, name));
      expect(environment['AGENTOS_TOOL_ALLOWED_HOSTS']).toBe(
        name === 'stepWorker' ? '127.0.0.1:8799,[::1]:8799,tools.internal:443' : undefined,
      );
    }
  });

  it('throws naming the entry when the tool allow-list holds something that is not a host', async () => {
    await expect(
      synthesizeNodeStack({ [contextKeys.toolAllowedHosts]: '127.0.0.1:8799,http://evil.example/' }),
    ).rejects.toThrow(`Context ${contextKeys.toolAllowedHosts}: "http://evil.example/" is not a host`);
  });

  it('throws when only one of the identity provider settings is given', async () => {
    await expect(
      synthesizeNodeStack({ [contextKeys.identityProviderIssuer]: 'https://issuer.example/' }),
    ).rejects.toThrow(contextKeys.identityProviderJwksUrl);
  });

  it('throws when the node keys are missing, naming agentos up', async () => {
    await expect(synthesizeNodeStack({ [contextKeys.nodeJwks]: '' })).rejects.toThrow('agentos up');
  });

  it('refuses a node JWKS holding a private key', async () => {
    const leaked = { keys: [{ ...sampleNodeJwks.keys[0], d: 'secret' }] };
    await expect(synthesizeNodeStack({ [contextKeys.nodeJwks]: JSON.stringify(leaked) })).rejects.toThrow(
      'public keys',
    );
  });

  it('throws when the signing key secret ARN is not a complete ARN', async () => {
    await expect(
      synthesizeNodeStack({ [contextKeys.serviceSigningKeySecretArn]: 'agentos/main/service-signing-key' }),
    ).rejects.toThrow(contextKeys.serviceSigningKeySecretArn);
  });

  it.each(functionNames)(
    'gives %s every variable its environment contract requires and none it does not declare',
    (name) => {
      const contract = functionEnvironments[name];
      const declared = Object.keys(environmentOf(functionResource(stack, template, name)));
      // AWS_REGION comes from the Lambda runtime, never from the template.
      expect(declared).toEqual(expect.arrayContaining(contract.required.filter((v) => v !== 'AWS_REGION')));
      const foreign = declared.filter((variable) => !(variable in contract.variables));
      expect(foreign.filter((variable) => !variable.startsWith('POWERTOOLS_'))).toEqual([]);
    },
  );

  it('outputs both API base URLs, the table name, the step queue URL and the settlement queues’ URLs', () => {
    expect(Object.keys(template.toJSON()['Outputs'] as object)).toEqual(
      expect.arrayContaining([
        'OrchestratorApiUrl',
        'ModelPolicyApiUrl',
        'TableName',
        'StepQueueUrl',
        'SettlementQueueUrl',
        'SettlementDeadLetterQueueUrl',
        'SettlementWorkerFunctionName',
      ]),
    );
  });
});

describe('cdk synth', () => {
  it('exits 0 offline and writes the node template', { timeout: 180_000 }, async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'agentos-cdk-cli-'));
    const bundlesDir = join(await mkdtemp(join(tmpdir(), 'agentos-cli-bundles-')), 'functions');
    const result = await runCdk([
      'synth',
      '--no-notices',
      '--no-version-reporting',
      '--quiet',
      '--output',
      outDir,
      '--context',
      `${bundlesDirContextKey}=${bundlesDir}`,
      ...Object.entries(nodeKeyContext()).flatMap(([key, value]) => ['--context', `${key}=${value}`]),
    ]);
    // The whole result, so a failure shows the CLI's output.
    expect(result).toMatchObject({ code: 0 });
    const templatePath = join(outDir, `${nodeStackName('main')}.template.json`);
    expect(existsSync(templatePath)).toBe(true);
    const template = JSON.parse(await readFile(templatePath, 'utf8')) as {
      Resources: Record<string, TemplateResource>;
    };
    const functions = Object.values(template.Resources).filter(
      (resource) => resource.Type === 'AWS::Lambda::Function',
    );
    expect(functions).toHaveLength(functionNames.length);
  });
});
