import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoLedger } from '../../../functions/model-policy/adapters/dynamodb/dynamo-ledger.ts';
import { DynamoRateLimiter } from '../../../functions/shared/limits/adapters/dynamo-rate-limiter.ts';
import { requestKey } from '../../../functions/model-policy/metering/attribution-keys.ts';
import { createDocumentClient } from '../../../functions/shared/storage/dynamo-client.ts';
import { storageKeys } from '../../../functions/shared/storage/keys.ts';
import { ledgerPortConformance } from '../../conformance/ledger-port.case.ts';
import type { UsageRecordCount } from '../../conformance/ledger-port.case.ts';
import { clientPastTokenWindow, provisionTestNode, testAwsConfig } from '../../support/aws.ts';

const table = provisionTestNode('ledger').then(({ resources }) => resources.tableName);
const db = createDocumentClient(testAwsConfig());

const usageRecordCount: UsageRecordCount = async (_ledger, tenantId, principalId, requestId) => {
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
};

ledgerPortConformance(
  'DynamoDB',
  async () => new DynamoLedger(db, await table),
  usageRecordCount,
  async () => {
    const limiter = new DynamoRateLimiter(db, await table);
    return { ledger: new DynamoLedger(db, await table, { rateLimiter: limiter }), limiter };
  },
);

/**
 * The same table on a client that sends no client request token, as a write does once the token's
 * ten minutes have passed (a settlement replayed from the settlement queue): the ledger's own
 * conditions alone must keep every write from applying twice.
 */
const tokenless = clientPastTokenWindow();
ledgerPortConformance(
  'DynamoDB past the client request token window',
  async () => new DynamoLedger(tokenless, await table),
  usageRecordCount,
);
