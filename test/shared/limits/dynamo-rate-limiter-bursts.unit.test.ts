import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoRateLimiter } from '../../../functions/shared/limits/adapters/dynamo-rate-limiter.ts';
import { ManualClock } from '../../support/manual-clock.ts';

/**
 * One bucket item as DynamoDB would hold it, applying the limiter's two conditional writes in the
 * order they arrive, each answered a tick later so a burst of takes is all on its way at once.
 */
function bucketTable(): { client: DynamoDBDocumentClient; writes: string[]; refused: () => number } {
  let tat: number | undefined;
  let refused = 0;
  const writes: string[] = [];
  const client = {
    async send(command: UpdateCommand) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      const input = command.input;
      const values = input.ExpressionAttributeValues as Record<string, number>;
      const restart = input.UpdateExpression?.startsWith('SET tat = :tat') === true;
      writes.push(restart ? 'restart' : 'advance');
      const now = values[':now']!;
      const holds = restart
        ? tat === undefined || tat < now
        : tat !== undefined && tat >= now && tat <= values[':highest']!;
      if (!holds) {
        refused += 1;
        throw new ConditionalCheckFailedException({
          message: 'The conditional request failed',
          $metadata: {},
          Item: tat === undefined ? undefined : { tat: { N: String(tat) } },
        });
      }
      tat = restart ? values[':tat']! : tat! + values[':interval']!;
      return { Attributes: { tat }, $metadata: {} };
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, writes, refused: () => refused };
}

const limit = { rate: 10, periodSeconds: 1, burst: 50 };
const key = 'tenant/acme/limits/tool-rate';

describe('DynamoRateLimiter under a burst from one instance', () => {
  it('restarts an idle bucket once and takes the rest of the burst from it in use, none refused', async () => {
    const clock = new ManualClock();
    const table = bucketTable();
    const limiter = new DynamoRateLimiter(table.client, 'table', { clock });
    expect((await limiter.take(key, limit)).allowed).toBe(true);
    clock.advance(10_000); // the bucket has gone idle since
    table.writes.length = 0;
    const refusedBefore = table.refused();

    const burst = await Promise.all(Array.from({ length: 20 }, () => limiter.take(key, limit)));

    expect(burst.every((decision) => decision.allowed)).toBe(true);
    expect(table.writes.filter((write) => write === 'restart')).toHaveLength(1);
    expect(table.refused() - refusedBefore).toBe(0);
    expect(table.writes).toHaveLength(20);
  });

  it('still refuses past the burst, whatever it planned', async () => {
    const clock = new ManualClock();
    const table = bucketTable();
    const limiter = new DynamoRateLimiter(table.client, 'table', { clock });
    const small = { rate: 1, periodSeconds: 1, burst: 3 };

    const burst = await Promise.all(Array.from({ length: 6 }, () => limiter.take(key, small)));

    expect(burst.filter((decision) => decision.allowed)).toHaveLength(3);
  });

  it('plans a burst of transactional takes as one restart and then takes from the bucket in use', () => {
    const clock = new ManualClock();
    const limiter = new DynamoRateLimiter(bucketTable().client, 'table', { clock });
    const plans = Array.from({ length: 5 }, () => limiter.planTake(key, limit));
    expect(
      plans.map((plan) => (plan.kind === 'write' ? plan.update.UpdateExpression.split(',')[0] : 'refused')),
    ).toEqual([
      'SET tat = :tat',
      'SET tat = tat + :interval',
      'SET tat = tat + :interval',
      'SET tat = tat + :interval',
      'SET tat = tat + :interval',
    ]);
  });

  it('restarts an idle bucket again once its planned takes have run out', () => {
    const clock = new ManualClock();
    const limiter = new DynamoRateLimiter(bucketTable().client, 'table', { clock });
    limiter.planTake(key, limit);
    clock.advance(10_000);
    const later = limiter.planTake(key, limit);
    expect(later.kind === 'write' ? later.update.UpdateExpression : 'refused').toMatch(/^SET tat = :tat/);
  });
});
