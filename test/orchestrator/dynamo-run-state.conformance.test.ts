import { DynamoRunStateStore } from '../../functions/orchestrator/adapters/dynamodb/dynamo-run-state.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { runStatePortConformance } from '../conformance/run-state-port.case.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';

const table = provisionTestNode('runstate').then(({ resources }) => resources.tableName);
runStatePortConformance(
  'DynamoDB',
  async () => new DynamoRunStateStore(createDocumentClient(testAwsConfig()), await table),
);
