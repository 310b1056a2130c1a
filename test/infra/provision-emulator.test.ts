import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { deprovisionNode, provisionNode } from '../../infra/local/provision-emulator.ts';
import {
  resourceNames,
  settlementQueueDefinition,
  stepQueueDefinition,
} from '../../infra/resources/definitions.ts';
import { testAwsConfig, uniqueNodeId } from '../support/aws.ts';

describe('provisionNode', () => {
  it('creates the table and a step queue that redrives to its DLQ, and is idempotent', async () => {
    const nodeId = uniqueNodeId('prov');
    const first = await provisionNode(nodeId, testAwsConfig());
    const second = await provisionNode(nodeId, testAwsConfig());
    expect(second).toEqual(first);
    const db = new DynamoDBClient(testAwsConfig());
    const table = await db.send(new DescribeTableCommand({ TableName: first.tableName }));
    expect(table.Table?.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    const sqs = new SQSClient(testAwsConfig());
    const attributes = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: first.stepQueueUrl, AttributeNames: ['All'] }),
    );
    expect(JSON.parse(attributes.Attributes?.['RedrivePolicy'] ?? '{}')).toMatchObject({
      maxReceiveCount: stepQueueDefinition.maxReceiveCount,
    });
    expect(first.stateMachineArn).toMatch(/^arn:aws:states:/);
  });

  it('creates the settlement queue redriving to its own DLQ, and deprovisionNode removes every queue', async () => {
    const nodeId = uniqueNodeId('prov');
    const aws = testAwsConfig();
    const resources = await provisionNode(nodeId, aws);
    const sqs = new SQSClient(aws);
    try {
      const attributes = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: resources.settlementQueueUrl, AttributeNames: ['All'] }),
      );
      expect(attributes.Attributes?.['QueueArn']).toBe(resources.settlementQueueArn);
      expect(JSON.parse(attributes.Attributes?.['RedrivePolicy'] ?? '{}')).toMatchObject({
        deadLetterTargetArn: expect.stringMatching(
          new RegExp(`:${resourceNames(nodeId).settlementDeadLetterQueue}$`),
        ),
        maxReceiveCount: settlementQueueDefinition.maxReceiveCount,
      });
      await deprovisionNode(nodeId, aws);
      const names = resourceNames(nodeId);
      for (const queueName of [names.settlementQueue, names.settlementDeadLetterQueue, names.stepQueue]) {
        await expect(sqs.send(new GetQueueUrlCommand({ QueueName: queueName }))).rejects.toBeInstanceOf(
          QueueDoesNotExist,
        );
      }
    } finally {
      sqs.destroy();
    }
  });
});
