import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoLedger } from '../../../functions/model-policy/adapters/dynamodb/dynamo-ledger.ts';
import { DynamoRateLimiter } from '../../../functions/shared/limits/adapters/dynamo-rate-limiter.ts';
import { requestKey } from '../../../functions/model-policy/metering/attribution-keys.ts';
import { createDocumentClient } from '../../../functions/shared/storage/dynamo-client.ts';
import { storageKeys } from '../../../functions/shared/storage/keys.ts';
import { ledgerPortConformance } from '../../conformance/ledger-port.case.ts';
import { provisionTestNode, testAwsConfig } from '../../support/aws.ts';

const table = provisionTestNode('ledger').then(({ resources }) => resources.tableName);
const db = createDocumentClient(testAwsConfig());
ledgerPortConformance(
  'DynamoDB',
  async () => new DynamoLedger(db, await table),
  async (_ledger, tenantId, principalId, requestId) => {
    const found = await db.send(
      new QueryCommand({
        TableName: await table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: {
          ':pk': storageKeys.usageRecords(tenantId, requestKey(principalId, requestId)),
        },
        ConsistentRead: true,
      }),
    );
    return found.Count ?? 0;
  },
  async () => {
    const limiter = new DynamoRateLimiter(db, await table);
    return { ledger: new DynamoLedger(db, await table, { rateLimiter: limiter }), limiter };
  },
);
