import { DynamoMemoryStore } from '../../functions/orchestrator/adapters/memory/dynamo-memory-store.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { memoryPortConformance } from '../conformance/memory-port.case.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';

const table = provisionTestNode('memory').then(({ resources }) => resources.tableName);
memoryPortConformance(
  'DynamoDB',
  async () => new DynamoMemoryStore(createDocumentClient(testAwsConfig()), await table),
);
