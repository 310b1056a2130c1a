import { DynamoRunStateStore } from '../../functions/orchestrator/adapters/dynamodb/dynamo-run-state.ts';
import { DynamoRateLimiter } from '../../functions/shared/limits/adapters/dynamo-rate-limiter.ts';
import { InMemoryRateLimiter } from '../../functions/shared/limits/adapters/in-memory-limits.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { runStatePortConformance } from '../conformance/run-state-port.case.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';

const table = provisionTestNode('runstate').then(({ resources }) => resources.tableName);
const db = createDocumentClient(testAwsConfig());
runStatePortConformance('DynamoDB', async () => new DynamoRunStateStore(db, await table), {
  // Its own kind: the take rides in the creating transaction.
  'a DynamoDB limiter on the same table': async () => new DynamoRateLimiter(db, await table),
  // Another kind: taken before the creating transaction.
  'an in-memory limiter': async () => new InMemoryRateLimiter(),
});
