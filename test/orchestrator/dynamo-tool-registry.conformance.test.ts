import { DynamoToolRegistry } from '../../functions/orchestrator/adapters/dynamodb/dynamo-tool-registry.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { toolRegistryPortConformance } from '../conformance/tool-registry-port.case.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';

const table = provisionTestNode('tools').then(({ resources }) => resources.tableName);
toolRegistryPortConformance(
  'DynamoDB',
  async () => new DynamoToolRegistry(createDocumentClient(testAwsConfig()), await table),
);
