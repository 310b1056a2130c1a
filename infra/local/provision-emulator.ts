import {
  CreateTableCommand,
  DescribeTableCommand,
  DeleteTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  SQSClient,
} from '@aws-sdk/client-sqs';
import {
  CreateStateMachineCommand,
  DeleteStateMachineCommand,
  ListStateMachinesCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { AlreadyExistsException, CreateEmailIdentityCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import type { AwsClientConfig } from '../../functions/shared/aws/client-config.ts';
import {
  alertEmailDefinition,
  deadlineQueueDefinition,
  longRunStateMachineDefinition,
  renderStateMachineDefinition,
  resourceNames,
  settlementDeadLetterQueueDefinition,
  settlementQueueDefinition,
  stepDeadLetterQueueDefinition,
  stepQueueDefinition,
  tableDefinition,
} from '../resources/definitions.ts';

/** What a provisioned node's functions are configured with. */
export type ProvisionedResources = {
  tableName: string;
  stepQueueUrl: string;
  stepQueueArn: string;
  stepDeadLetterQueueUrl: string;
  /** Runs' deadlines of at most 15 minutes, as delayed messages the step worker consumes. */
  deadlineQueueUrl: string;
  deadlineQueueArn: string;
  /** Model call settlements the table refused, which the settlement worker writes (HLD §5.3). */
  settlementQueueUrl: string;
  settlementQueueArn: string;
  settlementDeadLetterQueueUrl: string;
  stateMachineArn: string;
  /** The long-run state machine, which drives `long` runs. */
  longRunStateMachineArn: string;
  alertSender: string;
};

/** An account-local role ARN for a state machine; emulators accept it without IAM. */
function stateMachineRoleArn(queueArn: string, machineName: string): string {
  const account = queueArn.split(':')[4] ?? '000000000000';
  return `arn:aws:iam::${account}:role/${machineName}`;
}

async function ensureTable(db: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await db.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [
          {
            AttributeName: tableDefinition.partitionKey.name,
            AttributeType: tableDefinition.partitionKey.type,
          },
          { AttributeName: tableDefinition.sortKey.name, AttributeType: tableDefinition.sortKey.type },
        ],
        KeySchema: [
          { AttributeName: tableDefinition.partitionKey.name, KeyType: 'HASH' },
          { AttributeName: tableDefinition.sortKey.name, KeyType: 'RANGE' },
        ],
        BillingMode: tableDefinition.billingMode,
      }),
    );
    await waitUntilTableExists({ client: db, maxWaitTime: 60 }, { TableName: tableName });
    await db.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: tableDefinition.timeToLiveAttribute, Enabled: true },
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
}

async function ensureQueue(
  sqs: SQSClient,
  name: string,
  attributes: Record<string, string>,
): Promise<{ url: string; arn: string }> {
  const created = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  const url = created.QueueUrl ?? '';
  const described = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  return { url, arn: described.Attributes?.['QueueArn'] ?? '' };
}

async function findStateMachine(sfn: SFNClient, name: string): Promise<string | undefined> {
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new ListStateMachinesCommand({ nextToken }));
    const found = page.stateMachines?.find((machine) => machine.name === name);
    if (found?.stateMachineArn !== undefined) return found.stateMachineArn;
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  return undefined;
}

/**
 * Creates (or finds) a node's table, step and deadline queues with their DLQ, settlement queue with
 * its own DLQ, run-deadline and long-run state machines
 * and alert sender identity in an emulator, from the same definitions the CDK stack uses. Idempotent.
 * The test suite and the benchmarks use it for the nodes and adapters they run in their own process
 * (fresh resources per test file in well under a second, where a `cdk deploy` takes seconds);
 * test/infra/emulator-drift.test.ts keeps it equal to the stack. `agentos up --local` deploys the
 * stack itself.
 */
export async function provisionNode(nodeId: string, aws: AwsClientConfig): Promise<ProvisionedResources> {
  const names = resourceNames(nodeId);
  const db = new DynamoDBClient(aws);
  const sqs = new SQSClient(aws);
  const sfn = new SFNClient(aws);
  const ses = new SESv2Client(aws);
  try {
    await ensureTable(db, names.table);
    const dlq = await ensureQueue(sqs, names.stepDeadLetterQueue, {
      MessageRetentionPeriod: String(stepDeadLetterQueueDefinition.messageRetentionSeconds),
    });
    const queue = await ensureQueue(sqs, names.stepQueue, {
      VisibilityTimeout: String(stepQueueDefinition.visibilityTimeoutSeconds),
      MessageRetentionPeriod: String(stepQueueDefinition.messageRetentionSeconds),
      ReceiveMessageWaitTimeSeconds: String(stepQueueDefinition.receiveMessageWaitTimeSeconds),
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: dlq.arn,
        maxReceiveCount: stepQueueDefinition.maxReceiveCount,
      }),
    });
    const deadlineQueue = await ensureQueue(sqs, names.deadlineQueue, {
      VisibilityTimeout: String(deadlineQueueDefinition.visibilityTimeoutSeconds),
      MessageRetentionPeriod: String(deadlineQueueDefinition.messageRetentionSeconds),
      ReceiveMessageWaitTimeSeconds: String(deadlineQueueDefinition.receiveMessageWaitTimeSeconds),
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: dlq.arn,
        maxReceiveCount: deadlineQueueDefinition.maxReceiveCount,
      }),
    });
    const settlementDlq = await ensureQueue(sqs, names.settlementDeadLetterQueue, {
      MessageRetentionPeriod: String(settlementDeadLetterQueueDefinition.messageRetentionSeconds),
    });
    const settlementQueue = await ensureQueue(sqs, names.settlementQueue, {
      VisibilityTimeout: String(settlementQueueDefinition.visibilityTimeoutSeconds),
      MaximumMessageSize: String(settlementQueueDefinition.maxMessageSizeBytes),
      MessageRetentionPeriod: String(settlementQueueDefinition.messageRetentionSeconds),
      ReceiveMessageWaitTimeSeconds: String(settlementQueueDefinition.receiveMessageWaitTimeSeconds),
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: settlementDlq.arn,
        maxReceiveCount: settlementQueueDefinition.maxReceiveCount,
      }),
    });
    const ensureStateMachine = async (name: string, definition: string): Promise<string> =>
      (await findStateMachine(sfn, name)) ??
      (
        await sfn.send(
          new CreateStateMachineCommand({
            name,
            definition,
            roleArn: stateMachineRoleArn(queue.arn, name),
            type: 'STANDARD',
          }),
        )
      ).stateMachineArn ??
      '';
    const stateMachineArn = await ensureStateMachine(
      names.stateMachine,
      renderStateMachineDefinition(queue.url),
    );
    const longRunStateMachineArn = await ensureStateMachine(
      names.longRunStateMachine,
      renderStateMachineDefinition(queue.url, longRunStateMachineDefinition),
    );
    try {
      await ses.send(new CreateEmailIdentityCommand({ EmailIdentity: alertEmailDefinition.defaultSender }));
    } catch (error) {
      if (!(error instanceof AlreadyExistsException)) throw error;
    }
    return {
      tableName: names.table,
      stepQueueUrl: queue.url,
      stepQueueArn: queue.arn,
      stepDeadLetterQueueUrl: dlq.url,
      deadlineQueueUrl: deadlineQueue.url,
      deadlineQueueArn: deadlineQueue.arn,
      settlementQueueUrl: settlementQueue.url,
      settlementQueueArn: settlementQueue.arn,
      settlementDeadLetterQueueUrl: settlementDlq.url,
      stateMachineArn,
      longRunStateMachineArn,
      alertSender: alertEmailDefinition.defaultSender,
    };
  } finally {
    db.destroy();
    sqs.destroy();
    sfn.destroy();
    ses.destroy();
  }
}

/** Removes a node's resources from an emulator; missing resources are fine. */
export async function deprovisionNode(nodeId: string, aws: AwsClientConfig): Promise<void> {
  const names = resourceNames(nodeId);
  const db = new DynamoDBClient(aws);
  const sqs = new SQSClient(aws);
  const sfn = new SFNClient(aws);
  try {
    await db.send(new DeleteTableCommand({ TableName: names.table })).catch((error: unknown) => {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    });
    for (const queueName of [
      names.stepQueue,
      names.deadlineQueue,
      names.stepDeadLetterQueue,
      names.settlementQueue,
      names.settlementDeadLetterQueue,
    ]) {
      try {
        const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queueName }));
        await sqs.send(new DeleteQueueCommand({ QueueUrl }));
      } catch (error) {
        if (!(error instanceof QueueDoesNotExist)) throw error;
      }
    }
    for (const machine of [names.stateMachine, names.longRunStateMachine]) {
      const arn = await findStateMachine(sfn, machine);
      if (arn !== undefined) await sfn.send(new DeleteStateMachineCommand({ stateMachineArn: arn }));
    }
  } finally {
    db.destroy();
    sqs.destroy();
    sfn.destroy();
  }
}

/** True when the node's table exists. */
export async function isProvisioned(nodeId: string, aws: AwsClientConfig): Promise<boolean> {
  const db = new DynamoDBClient(aws);
  try {
    await db.send(new DescribeTableCommand({ TableName: resourceNames(nodeId).table }));
    return true;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return false;
    throw error;
  } finally {
    db.destroy();
  }
}
