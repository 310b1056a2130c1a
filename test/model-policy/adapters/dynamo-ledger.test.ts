import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoLedger } from '../../../functions/model-policy/adapters/dynamodb/dynamo-ledger.ts';
import { DynamoRateLimiter } from '../../../functions/shared/limits/adapters/dynamo-rate-limiter.ts';
import { provisionTestNode, testAwsConfig } from '../../support/aws.ts';
import { claimOf, tenantTotalLine } from '../../support/ledger-claims.ts';

/**
 * A document client whose next write, once armed, reaches the store but loses its answer on the way
 * back, so the SDK retries a write that already applied (a timeout after the request was sent).
 */
function clientLosingOneAnswer(): { db: DynamoDBDocumentClient; loseNextWriteAnswer(): void } {
  const client = new DynamoDBClient({ ...testAwsConfig(), maxAttempts: 3 });
  let armed = false;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (armed && /Update|TransactWrite/.test(context.commandName ?? '')) {
        armed = false;
        throw Object.assign(new Error('the answer was lost'), { name: 'TimeoutError', $metadata: {} });
      }
      return result;
    },
    { step: 'deserialize', name: 'loseOneAnswer' },
  );
  return {
    db: DynamoDBDocumentClient.from(client),
    loseNextWriteAnswer: () => {
      armed = true;
    },
  };
}

let tableName: string;

beforeAll(async () => {
  tableName = (await provisionTestNode('ledger')).resources.tableName;
});

const line = tenantTotalLine;

describe('DynamoLedger', () => {
  it('takes the request rate in the claim’s write after another instance moved the bucket, never past its burst', async () => {
    const db = DynamoDBDocumentClient.from(new DynamoDBClient(testAwsConfig()));
    const here = new DynamoRateLimiter(db, tableName);
    const ledger = new DynamoLedger(db, tableName, { rateLimiter: here });
    const elsewhere = new DynamoRateLimiter(db, tableName);
    const run = Date.now().toString(36);
    const bucket = {
      key: `tenant/rated-${run}/limits/model-request-rate`,
      limit: { rate: 3, periodSeconds: 10_800, burst: 3 },
    };
    const free = { ...line, limitTokens: 1_000_000 };
    expect(
      await ledger.claimAndReserve('rated', claimOf(`r1-${run}`), [free], { tokens: 1, nano: 0 }, bucket),
    ).toMatchObject({ outcome: 'reserved', rate: { remaining: 2 } });
    // Another instance takes a place: what this one remembers of the bucket is now behind.
    expect(await elsewhere.take(bucket.key, bucket.limit)).toMatchObject({ allowed: true, remaining: 1 });
    // Its RateLimit-Remaining is reckoned from what this instance knew (a transaction returns no
    // values): the other instance's take is not in it. The bucket itself holds both.
    expect(
      await ledger.claimAndReserve('rated', claimOf(`r2-${run}`), [free], { tokens: 1, nano: 0 }, bucket),
    ).toMatchObject({ outcome: 'reserved', rate: { allowed: true, remaining: 1 } });
    const refused = claimOf(`r3-${run}`);
    expect(
      await ledger.claimAndReserve('rated', refused, [free], { tokens: 1, nano: 0 }, bucket),
    ).toMatchObject({
      outcome: 'rate_limited',
    });
    expect(await elsewhere.take(bucket.key, bucket.limit)).toMatchObject({ allowed: false });
    expect(await ledger.claim('rated', refused)).toEqual({ outcome: 'claimed' });
  });

  it('reserves every one of many concurrent calls within the burst, made through several instances', async () => {
    const db = DynamoDBDocumentClient.from(new DynamoDBClient(testAwsConfig()));
    const ledgers = Array.from(
      { length: 3 },
      () => new DynamoLedger(db, tableName, { rateLimiter: new DynamoRateLimiter(db, tableName) }),
    );
    const run = Date.now().toString(36);
    const bucket = {
      key: `tenant/crowd-${run}/limits/model-request-rate`,
      limit: { rate: 40, periodSeconds: 1, burst: 40 },
    };
    const free = { ...line, limitTokens: 1_000_000 };
    // A first call makes every instance's bucket busy; then 30 at once, none past the burst of 40.
    await ledgers[0]!.claimAndReserve(
      'crowd',
      claimOf(`first-${run}`),
      [free],
      { tokens: 1, nano: 0 },
      bucket,
    );
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, (_, index) =>
        ledgers[index % 3]!.claimAndReserve(
          'crowd',
          claimOf(`c${index}-${run}`),
          [free],
          { tokens: 1, nano: 0 },
          bucket,
        ).then(
          (outcome) => outcome.outcome,
          (error: unknown) => (error as Error).message,
        ),
      ),
    );
    expect(outcomes).toEqual(Array.from({ length: 30 }, () => 'reserved'));
  });

  it('returns each of many concurrent calls through one instance its own RateLimit-Remaining', async () => {
    const db = DynamoDBDocumentClient.from(new DynamoDBClient(testAwsConfig()));
    const ledger = new DynamoLedger(db, tableName, { rateLimiter: new DynamoRateLimiter(db, tableName) });
    const run = Date.now().toString(36);
    const bucket = {
      key: `tenant/remaining-${run}/limits/model-request-rate`,
      limit: { rate: 40, periodSeconds: 60, burst: 40 },
    };
    const free = { ...line, limitTokens: 1_000_000 };
    const claimWithRate = (name: string) =>
      ledger.claimAndReserve('remaining', claimOf(`${name}-${run}`), [free], { tokens: 1, nano: 0 }, bucket);
    expect(await claimWithRate('first')).toMatchObject({ outcome: 'reserved', rate: { remaining: 39 } });
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, index) => claimWithRate(`c${index}`)));
    const remaining = outcomes.map((outcome) =>
      outcome.outcome === 'reserved' ? outcome.rate?.remaining : outcome.outcome,
    );
    // Planned at once from the same known bucket, each still counts the takes planned before it.
    expect([...remaining].sort((a, b) => Number(b) - Number(a))).toEqual(
      Array.from({ length: 20 }, (_, index) => 38 - index),
    );
  });

  it('counts a reservation once when the SDK retries a write that applied', async () => {
    const { db, loseNextWriteAnswer } = clientLosingOneAnswer();
    const ledger = new DynamoLedger(db, tableName);
    const claim = claimOf('retried-reserve');
    expect(await ledger.claim('acme', claim)).toEqual({ outcome: 'claimed' });
    loseNextWriteAnswer();
    expect(await ledger.reserve('acme', claim, [line], { tokens: 100, nano: 0 }, 0)).toBe('reserved');
    const [counters] = await ledger.readBudgets('acme', [line]);
    expect(counters).toMatchObject({ reservedTokens: 100 });
  });

  it('refuses a reservation under a claim a later attempt took over, and releases the lapsed one', async () => {
    const ledger = new DynamoLedger(
      DynamoDBDocumentClient.from(new DynamoDBClient(testAwsConfig())),
      tableName,
    );
    const first = claimOf('taken-over');
    await ledger.claim('beta', first);
    expect(await ledger.reserve('beta', first, [line], { tokens: 300, nano: 0 }, 0)).toBe('reserved');
    const later = { ...claimOf('taken-over'), token: `later-${randomUUID()}`, now: first.leaseUntil + 1 };
    expect(await ledger.claim('beta', later)).toEqual({ outcome: 'claimed' });
    expect((await ledger.readBudgets('beta', [line]))[0]).toMatchObject({ reservedTokens: 0 });
    expect(await ledger.reserve('beta', first, [line], { tokens: 300, nano: 0 }, 1)).toBe('claim_lost');
  });
});
