import { describe, expect, it } from 'vitest';
import { DynamoRateLimiter } from '../../../functions/shared/limits/adapters/dynamo-rate-limiter.ts';
import { DynamoSlotPool } from '../../../functions/shared/limits/adapters/dynamo-slot-pool.ts';
import { createDocumentClient } from '../../../functions/shared/storage/dynamo-client.ts';
import { platformKeys, storageKeys } from '../../../functions/shared/storage/keys.ts';
import { ManualClock } from '../../support/manual-clock.ts';
import { provisionTestNode, testAwsConfig } from '../../support/aws.ts';

const table = provisionTestNode('limacc').then(({ resources }) => resources.tableName);
/** Separate clients stand for separate function instances sharing the table (HLD §5.2). */
const instances = 4;

describe('limiter accuracy on DynamoDB under concurrent load', () => {
  it('admits a 2 s concurrent flood at 10/s with a burst of 20 within the bucket arithmetic', async () => {
    const limiters = await Promise.all(
      Array.from(
        { length: instances },
        async () => new DynamoRateLimiter(createDocumentClient(testAwsConfig()), await table),
      ),
    );
    const limit = { rate: 10, periodSeconds: 1, burst: 20 };
    const key = storageKeys.tenantLimit(`acc-${crypto.randomUUID().slice(0, 8)}`, 'run-rate');
    let accepted = 0;
    let attempts = 0;
    const started = Date.now();
    // 16 callers, each taking again as soon as its last take answered, for 2 s.
    await Promise.all(
      Array.from({ length: 16 }, async (_, caller) => {
        const limiter = limiters[caller % instances] as DynamoRateLimiter;
        while (Date.now() - started < 2_000) {
          attempts += 1;
          if ((await limiter.take(key, limit)).allowed) accepted += 1;
        }
      }),
    );
    const elapsedSeconds = (Date.now() - started) / 1000;
    // GCRA admits the burst at once, then one request per 100 ms: never more, whatever the timing.
    expect(attempts).toBeGreaterThan(accepted);
    expect(accepted).toBeGreaterThanOrEqual(limit.burst);
    expect(accepted).toBeLessThanOrEqual(limit.burst + Math.floor(limit.rate * elapsedSeconds) + 1);
  });

  it('grants 3 slots to 30 concurrent acquires, and frees one on release and one on expiry', async () => {
    const clock = new ManualClock(Date.now());
    const pools = await Promise.all(
      Array.from(
        { length: instances },
        async () => new DynamoSlotPool(createDocumentClient(testAwsConfig()), await table, { clock }),
      ),
    );
    const pool = pools[0] as DynamoSlotPool;
    const key = platformKeys.nodeLimit(`run-slots-${crypto.randomUUID().slice(0, 8)}`);
    const decisions = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (pools[i % instances] as DynamoSlotPool).acquire(key, `run-${i}`, 3, 60),
      ),
    );
    const holders = decisions.flatMap((decision, i) => (decision.acquired ? [`run-${i}`] : []));
    expect(holders).toHaveLength(3);
    expect(decisions.filter((d) => !d.acquired).every((d) => d.inUse === 3)).toBe(true);

    await pool.release(key, holders[0] as string);
    const afterRelease = await Promise.all(
      Array.from({ length: 10 }, (_, i) => pool.acquire(key, `late-${i}`, 3, 60)),
    );
    expect(afterRelease.filter((d) => d.acquired)).toHaveLength(1);

    // One holder keeps renewing; the others die: their leases run out and one slot each comes back.
    clock.advance(30_000);
    expect(await pool.renew(key, holders[1] as string, 60)).toBe(true);
    clock.advance(30_000);
    const afterExpiry = await Promise.all(
      Array.from({ length: 10 }, (_, i) => pool.acquire(key, `later-${i}`, 3, 60)),
    );
    expect(afterExpiry.filter((d) => d.acquired)).toHaveLength(2);
    expect((await pool.holders(key)).map((lease) => lease.holder)).toContain(holders[1]);
  });
});
