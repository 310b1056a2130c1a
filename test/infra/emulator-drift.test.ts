import { DescribeTableCommand, DescribeTimeToLiveCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { GetEmailIdentityCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { contextKeys } from '../../infra/config/node-settings.ts';
import { deprovisionNode, provisionNode } from '../../infra/local/provision-emulator.ts';
import type { ProvisionedResources } from '../../infra/local/provision-emulator.ts';
import { resourceNames, settlementQueueDefinition } from '../../infra/resources/definitions.ts';
import { testAwsConfig, uniqueNodeId } from '../support/aws.ts';
import { resourcesOfType, synthesizeNodeStack } from './node-template.ts';

/*
 * The nodes the tests and benchmarks run in their own process are provisioned by
 * infra/local/provision-emulator.ts, every other node (`agentos up --local` included) by the CDK
 * stack. Each side is read back as it really is (the emulator over its API, the stack as a
 * synthesized template) and reduced to the same shape, so a value changed on one side only fails.
 */

type QueueShape = {
  name: string;
  visibilityTimeoutSeconds?: number;
  retentionSeconds: number;
  waitTimeSeconds?: number;
  maxReceiveCount?: number;
  deadLetterQueueName?: string;
};

function numberOrUndefined(value: unknown): number | undefined {
  return value === undefined ? undefined : Number(value);
}

function sortedAttributes(attributes: readonly { AttributeName?: string; AttributeType?: string }[]) {
  return attributes
    .map(({ AttributeName, AttributeType }) => ({ AttributeName, AttributeType }))
    .sort((a, b) => String(a.AttributeName).localeCompare(String(b.AttributeName)));
}

/** The queue as the emulator reports it. */
async function emulatorQueue(sqs: SQSClient, url: string, deadLetter: boolean): Promise<QueueShape> {
  const { Attributes: attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }),
  );
  const name = url.split('/').at(-1) ?? '';
  if (deadLetter) return { name, retentionSeconds: Number(attributes['MessageRetentionPeriod']) };
  const redrive = JSON.parse(attributes['RedrivePolicy'] ?? '{}') as {
    maxReceiveCount?: number | string;
    deadLetterTargetArn?: string;
  };
  return {
    name,
    visibilityTimeoutSeconds: numberOrUndefined(attributes['VisibilityTimeout']),
    retentionSeconds: Number(attributes['MessageRetentionPeriod']),
    waitTimeSeconds: numberOrUndefined(attributes['ReceiveMessageWaitTimeSeconds']),
    maxReceiveCount: numberOrUndefined(redrive.maxReceiveCount),
    deadLetterQueueName: redrive.deadLetterTargetArn?.split(':').at(-1),
  };
}

/**
 * A physical name as the template declares it, with the stack-instance suffix a deployed stack adds
 * (a CloudFormation join) dropped: the local node names the same resource without it.
 */
function declaredName(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] } | undefined)?.['Fn::Join'];
  if (join === undefined) throw new Error(`Unexpected name ${JSON.stringify(value)}`);
  const parts = join[1];
  expect(typeof parts.at(-1)).not.toBe('string');
  return parts.slice(0, -1).join(join[0]).replace(/-$/, '');
}

/** The logical id of the template's resource of `type` whose declared name is `name`. */
function logicalIdNamed(template: Template, type: string, key: string, name: string): string {
  const matches = Object.entries(resourcesOfType(template, type)).filter(
    ([, resource]) => declaredName(resource.Properties?.[key]) === name,
  );
  if (matches.length !== 1) throw new Error(`Expected one ${type} named ${name}, found ${matches.length}`);
  return matches[0]![0];
}

/** The queue as the template declares it; the DLQ target is resolved to that queue's name. */
function templateQueue(template: Template, name: string, deadLetter: boolean): QueueShape {
  const queues = resourcesOfType(template, 'AWS::SQS::Queue');
  const properties = queues[logicalIdNamed(template, 'AWS::SQS::Queue', 'QueueName', name)]?.Properties ?? {};
  if (deadLetter) return { name, retentionSeconds: Number(properties['MessageRetentionPeriod']) };
  const redrive = properties['RedrivePolicy'] as
    { maxReceiveCount?: number; deadLetterTargetArn?: { 'Fn::GetAtt'?: [string, string] } } | undefined;
  const targetId = redrive?.deadLetterTargetArn?.['Fn::GetAtt']?.[0];
  return {
    name,
    visibilityTimeoutSeconds: numberOrUndefined(properties['VisibilityTimeout']),
    retentionSeconds: Number(properties['MessageRetentionPeriod']),
    waitTimeSeconds: numberOrUndefined(properties['ReceiveMessageWaitTimeSeconds']),
    maxReceiveCount: numberOrUndefined(redrive?.maxReceiveCount),
    deadLetterQueueName:
      targetId === undefined ? undefined : declaredName(queues[targetId]?.Properties?.['QueueName']),
  };
}

/**
 * Renders a `DefinitionString` the way CloudFormation does: every `${Name}` replaced by its
 * substitution, with `Ref`s resolved to what the emulator's resource of that logical id returns.
 */
function renderDefinition(
  definition: string,
  substitutions: Record<string, unknown>,
  refs: Record<string, string>,
): string {
  let rendered = definition;
  for (const [name, value] of Object.entries(substitutions)) {
    const ref = (value as { Ref?: string }).Ref;
    const resolved = typeof value === 'string' ? value : ref === undefined ? undefined : refs[ref];
    if (resolved === undefined)
      throw new Error(`Cannot resolve substitution ${name}: ${JSON.stringify(value)}`);
    rendered = rendered.replaceAll(`\${${name}}`, resolved);
  }
  return rendered;
}

describe('the emulator node and the CDK stack', () => {
  const nodeId = uniqueNodeId('drift');
  const names = resourceNames(nodeId);
  let provisioned: ProvisionedResources;
  let template: Template;

  beforeAll(async () => {
    provisioned = await provisionNode(nodeId, testAwsConfig());
    ({ template } = await synthesizeNodeStack({ [contextKeys.nodeId]: nodeId }));
  });

  afterAll(async () => {
    await deprovisionNode(nodeId, testAwsConfig());
  });

  it('declare the same table: keys, attribute types, billing mode and TTL attribute', async () => {
    const db = new DynamoDBClient(testAwsConfig());
    const { Table: table } = await db.send(new DescribeTableCommand({ TableName: provisioned.tableName }));
    const { TimeToLiveDescription: ttl } = await db.send(
      new DescribeTimeToLiveCommand({ TableName: provisioned.tableName }),
    );
    db.destroy();
    // A deployed table is named by CloudFormation (a retained one must not block the next deploy),
    // a local one by the node id: everything else must match.
    const tables = Object.values(resourcesOfType(template, 'AWS::DynamoDB::Table'));
    expect(tables).toHaveLength(1);
    const declared = tables[0]?.Properties ?? {};
    expect(declared['TableName']).toBeUndefined();
    const declaredTtl = declared['TimeToLiveSpecification'] as
      { AttributeName: string; Enabled: boolean } | undefined;

    expect(table?.TableName).toBe(names.table);
    expect({
      keySchema: table?.KeySchema,
      attributes: sortedAttributes(table?.AttributeDefinitions ?? []),
      billingMode: table?.BillingModeSummary?.BillingMode,
      ttlAttribute: ttl?.TimeToLiveStatus === 'ENABLED' ? ttl.AttributeName : undefined,
    }).toEqual({
      keySchema: declared['KeySchema'],
      attributes: sortedAttributes(declared['AttributeDefinitions'] as { AttributeName: string }[]),
      billingMode: declared['BillingMode'],
      ttlAttribute: declaredTtl?.Enabled === true ? declaredTtl.AttributeName : undefined,
    });
  });

  it('declare the same step queue, deadline queue and dead-letter queue', async () => {
    const sqs = new SQSClient(testAwsConfig());
    const emulator = {
      stepQueue: await emulatorQueue(sqs, provisioned.stepQueueUrl, false),
      deadlineQueue: await emulatorQueue(sqs, provisioned.deadlineQueueUrl, false),
      deadLetterQueue: await emulatorQueue(sqs, provisioned.stepDeadLetterQueueUrl, true),
    };
    sqs.destroy();

    expect(emulator).toEqual({
      stepQueue: templateQueue(template, names.stepQueue, false),
      deadlineQueue: templateQueue(template, names.deadlineQueue, false),
      deadLetterQueue: templateQueue(template, names.stepDeadLetterQueue, true),
    });
  });

  it('declare the same settlement queue and its own dead-letter queue', async () => {
    const sqs = new SQSClient(testAwsConfig());
    const emulator = {
      settlementQueue: await emulatorQueue(sqs, provisioned.settlementQueueUrl, false),
      deadLetterQueue: await emulatorQueue(sqs, provisioned.settlementDeadLetterQueueUrl, true),
    };
    onTestFinished(() => sqs.destroy());

    expect(emulator).toEqual({
      settlementQueue: templateQueue(template, names.settlementQueue, false),
      deadLetterQueue: templateQueue(template, names.settlementDeadLetterQueue, true),
    });
    expect(emulator.settlementQueue.deadLetterQueueName).toBe(names.settlementDeadLetterQueue);
    // A settlement carries the call's whole answer, so its queue's size limit is declared on both
    // sides (the step queues keep SQS's default, which AWS and the emulator report differently).
    const { Attributes: attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: provisioned.settlementQueueUrl,
        AttributeNames: ['MaximumMessageSize'],
      }),
    );
    const declared = resourcesOfType(template, 'AWS::SQS::Queue')[
      logicalIdNamed(template, 'AWS::SQS::Queue', 'QueueName', names.settlementQueue)
    ]?.Properties?.['MaximumMessageSize'];
    expect(Number(attributes['MaximumMessageSize'])).toBe(Number(declared));
    expect(Number(declared)).toBe(settlementQueueDefinition.maxMessageSizeBytes);
  });

  it.each([
    { machine: 'run-deadline', name: 'stateMachine', arn: 'stateMachineArn' },
    { machine: 'long-run', name: 'longRunStateMachine', arn: 'longRunStateMachineArn' },
  ] as const)(
    'declare the same $machine state machine, once the step queue URL is substituted',
    async ({ name, arn }) => {
      const sfn = new SFNClient(testAwsConfig());
      const described = await sfn.send(
        new DescribeStateMachineCommand({ stateMachineArn: provisioned[arn] }),
      );
      sfn.destroy();
      const machineId = logicalIdNamed(
        template,
        'AWS::StepFunctions::StateMachine',
        'StateMachineName',
        names[name],
      );
      const declared =
        resourcesOfType(template, 'AWS::StepFunctions::StateMachine')[machineId]?.Properties ?? {};
      const queueRefs = {
        [logicalIdNamed(template, 'AWS::SQS::Queue', 'QueueName', names.stepQueue)]: provisioned.stepQueueUrl,
        [logicalIdNamed(template, 'AWS::SQS::Queue', 'QueueName', names.stepDeadLetterQueue)]:
          provisioned.stepDeadLetterQueueUrl,
      };
      const rendered = renderDefinition(
        declared['DefinitionString'] as string,
        (declared['DefinitionSubstitutions'] ?? {}) as Record<string, unknown>,
        queueRefs,
      );

      expect({
        name: described.name,
        type: described.type,
        definition: JSON.parse(described.definition ?? '{}') as unknown,
      }).toEqual({
        name: declaredName(declared['StateMachineName']),
        type: declared['StateMachineType'],
        definition: JSON.parse(rendered) as unknown,
      });
    },
  );

  it('leave the alert sender identity to the operator command, which creates it for both', async () => {
    // An SES identity belongs to the account: two stages sending from one address would collide if
    // each stack declared it, so `agentos up` (and the local provisioner) creates it when missing.
    expect(Object.keys(resourcesOfType(template, 'AWS::SES::EmailIdentity'))).toEqual([]);
    const ses = new SESv2Client(testAwsConfig());
    const identity = await ses.send(new GetEmailIdentityCommand({ EmailIdentity: provisioned.alertSender }));
    ses.destroy();
    expect(identity.IdentityType).toBe('EMAIL_ADDRESS');
  });
});
