import { DynamoLedger } from '../../../functions/model-policy/adapters/dynamodb/dynamo-ledger.ts';
import { createDocumentClient } from '../../../functions/shared/storage/dynamo-client.ts';
import { ledgerPortConformance } from '../../conformance/ledger-port.case.ts';
import { provisionTestNode, testAwsConfig } from '../../support/aws.ts';

const table = provisionTestNode('ledger').then(({ resources }) => resources.tableName);
ledgerPortConformance(
  'DynamoDB',
  async () => new DynamoLedger(createDocumentClient(testAwsConfig()), await table),
);
