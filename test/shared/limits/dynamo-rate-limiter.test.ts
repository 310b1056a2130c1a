import { describe, expect, it } from 'vitest';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoRateLimiter } from '../../../functions/shared/limits/adapters/dynamo-rate-limiter.ts';
import { createDocumentClient } from '../../../functions/shared/storage/dynamo-client.ts';
import { ManualClock } from '../../support/manual-clock.ts';
import { provisionTestNode, testAwsConfig } from '../../support/aws.ts';

const table = provisionTestNode('rate-memory').then(({ resources }) => resources.tableName);
const client = createDocumentClient(testAwsConfig());

/** The document client, counting the calls that reach the emulator. */
function counting(): { client: DynamoDBDocumentClient; calls: () => number } {
  let calls = 0;
  const wrapped = new Proxy(client, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver) as unknown;
      return (...args: Parameters<DynamoDBDocumentClient['send']>) => {
        calls += 1;
        return target.send(...args);
      };
    },
  });
  return { client: wrapped, calls: () => calls };
}

const limit = { rate: 1, periodSeconds: 1, burst: 2 };

// What the adapter adds to the port's contract (the conformance suite holds the contract itself):
// a flood past the quota is refused from memory, so it does not load the table other tenants share.
describe('DynamoRateLimiter refusals', () => {
  it('refuses a bucket it has seen full without a call to DynamoDB', async () => {
    const clock = new ManualClock();
    const db = counting();
    const limiter = new DynamoRateLimiter(db.client, await table, { clock });
    const key = `tenant/flood-${crypto.randomUUID()}/limits/run-rate`;
    expect((await limiter.take(key, limit)).allowed).toBe(true);
    expect((await limiter.take(key, limit)).allowed).toBe(true);
    expect((await limiter.take(key, limit)).allowed).toBe(false);
    const callsWhenFull = db.calls();
    const refusals = await Promise.all(Array.from({ length: 50 }, () => limiter.take(key, limit)));
    expect(refusals.every((decision) => !decision.allowed && decision.retryAfterSeconds >= 1)).toBe(true);
    expect(db.calls()).toBe(callsWhenFull);
  });

  it('admits a take from a bucket it saw go idle with one write, and still admits when another instance kept it busy', async () => {
    const clock = new ManualClock();
    const db = counting();
    const limiter = new DynamoRateLimiter(db.client, await table, { clock });
    const other = new DynamoRateLimiter(client, await table, { clock });
    const key = `tenant/idle-${crypto.randomUUID()}/limits/run-rate`;
    expect((await limiter.take(key, limit)).allowed).toBe(true);
    clock.advance(5_000);
    const before = db.calls();
    expect((await limiter.take(key, limit)).allowed).toBe(true);
    expect(db.calls() - before).toBe(1);
    // Another instance takes meanwhile: the idle guess fails its condition and the busy write follows.
    clock.advance(5_000);
    expect((await other.take(key, limit)).allowed).toBe(true);
    expect((await limiter.take(key, limit)).allowed).toBe(true);
    expect((await limiter.take(key, limit)).allowed).toBe(false);
  });

  it('admits again as soon as the bucket refills, though it remembered it full', async () => {
    const clock = new ManualClock();
    const limiter = new DynamoRateLimiter(client, await table, { clock });
    const key = `tenant/refill-${crypto.randomUUID()}/limits/run-rate`;
    await limiter.take(key, limit);
    await limiter.take(key, limit);
    const refused = await limiter.take(key, limit);
    expect(refused.allowed).toBe(false);
    clock.advance(refused.retryAfterSeconds * 1000);
    expect((await limiter.take(key, limit)).allowed).toBe(true);
  });

  it('does not refuse from memory once the quota is raised', async () => {
    const clock = new ManualClock();
    const limiter = new DynamoRateLimiter(client, await table, { clock });
    const key = `tenant/raised-${crypto.randomUUID()}/limits/run-rate`;
    await limiter.take(key, limit);
    await limiter.take(key, limit);
    expect((await limiter.take(key, limit)).allowed).toBe(false);
    expect((await limiter.take(key, { ...limit, burst: 10 })).allowed).toBe(true);
  });

  it('returns what the table says when another instance filled the bucket', async () => {
    const clock = new ManualClock();
    const first = new DynamoRateLimiter(client, await table, { clock });
    const second = counting();
    const other = new DynamoRateLimiter(second.client, await table, { clock });
    const key = `tenant/shared-${crypto.randomUUID()}/limits/run-rate`;
    await first.take(key, limit);
    await first.take(key, limit);
    expect((await other.take(key, limit)).allowed).toBe(false);
    expect(second.calls()).toBeGreaterThan(0);
    clock.advance(1_000);
    expect((await other.take(key, limit)).allowed).toBe(true);
    expect((await first.take(key, limit)).allowed).toBe(false);
  });
});
