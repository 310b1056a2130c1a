import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { provisionNode } from '../../infra/local/provision-emulator.ts';
import { stepQueueDefinition } from '../../infra/resources/definitions.ts';
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
});
