import { DynamoRateLimiter } from '../../../functions/shared/limits/adapters/dynamo-rate-limiter.ts';
import { DynamoSlotPool } from '../../../functions/shared/limits/adapters/dynamo-slot-pool.ts';
import { createDocumentClient } from '../../../functions/shared/storage/dynamo-client.ts';
import { rateLimiterPortConformance } from '../../conformance/rate-limiter-port.case.ts';
import { slotPoolPortConformance } from '../../conformance/slot-pool-port.case.ts';
import { ManualClock } from '../../support/manual-clock.ts';
import { provisionTestNode, testAwsConfig } from '../../support/aws.ts';

const table = provisionTestNode('limits').then(({ resources }) => resources.tableName);
const client = createDocumentClient(testAwsConfig());

// The adapters take the clock, so refills and lease expiry are tested without waiting.
rateLimiterPortConformance('DynamoDB', async () => {
  const clock = new ManualClock();
  return {
    limiter: new DynamoRateLimiter(client, await table, { clock }),
    advance: (ms) => clock.advance(ms),
  };
});

slotPoolPortConformance('DynamoDB', async () => {
  const clock = new ManualClock();
  return { pool: new DynamoSlotPool(client, await table, { clock }), advance: (ms) => clock.advance(ms) };
});
