import {
  ConditionalCheckFailedException,
  TransactionCanceledException,
  TransactionConflictException,
} from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoRateLimiter } from '../../functions/shared/limits/adapters/dynamo-rate-limiter.ts';
import { DynamoSlotPool } from '../../functions/shared/limits/adapters/dynamo-slot-pool.ts';
import { retryOnTransactionConflict } from '../../functions/shared/storage/transaction-conflict.ts';

function conflict(): TransactionConflictException {
  return new TransactionConflictException({
    message: 'Transaction is ongoing for the item',
    $metadata: {},
  });
}

const noPause = { pause: () => Promise.resolve() };

/** A document client whose sends answer, in turn, what `answers` say (an error is thrown). */
function scriptedClient(answers: unknown[]): { client: DynamoDBDocumentClient; sends: () => number } {
  let sent = 0;
  const client = {
    send: () => {
      const answer = answers[Math.min(sent, answers.length - 1)];
      sent += 1;
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, sends: () => sent };
}

describe('retryOnTransactionConflict', () => {
  it('returns the write’s answer once the item is out of the other transaction', async () => {
    let calls = 0;
    const answer = await retryOnTransactionConflict(() => {
      calls += 1;
      return calls < 3 ? Promise.reject(conflict()) : Promise.resolve('written');
    }, noPause);
    expect(answer).toBe('written');
    expect(calls).toBe(3);
  });

  it('throws the last refusal after its attempts', async () => {
    let calls = 0;
    await expect(
      retryOnTransactionConflict(
        () => {
          calls += 1;
          return Promise.reject(conflict());
        },
        { ...noPause, attempts: 4 },
      ),
    ).rejects.toBeInstanceOf(TransactionConflictException);
    expect(calls).toBe(4);
  });

  it('throws any other error at once', async () => {
    let calls = 0;
    const failed = new ConditionalCheckFailedException({ message: 'condition', $metadata: {} });
    await expect(
      retryOnTransactionConflict(() => {
        calls += 1;
        return Promise.reject(failed);
      }, noPause),
    ).rejects.toBe(failed);
    expect(calls).toBe(1);
  });
});

describe('single writes to items that transactions also write', () => {
  it('gives a run slot back when the pool item was inside another run’s transaction', async () => {
    const { client, sends } = scriptedClient([conflict(), {}]);
    await expect(new DynamoSlotPool(client, 'table').release('pool', 'run-1')).resolves.toBeUndefined();
    expect(sends()).toBe(2);
  });

  it('renews a run slot when the pool item was inside another run’s transaction', async () => {
    const { client, sends } = scriptedClient([conflict(), {}]);
    await expect(new DynamoSlotPool(client, 'table').renew('pool', 'run-1', 60)).resolves.toBe(true);
    expect(sends()).toBe(2);
  });

  it('takes a run slot when the pool item was inside another run’s transaction', async () => {
    const { client } = scriptedClient([
      conflict(),
      { Attributes: { leases: { 'run-1': Date.now() + 60_000 } } },
    ]);
    await expect(new DynamoSlotPool(client, 'table').acquire('pool', 'run-1', 3, 60)).resolves.toMatchObject({
      acquired: true,
    });
  });

  it('takes a slot in every pool at once after meeting another transaction, not pool by pool', async () => {
    const conflicted = new TransactionCanceledException({
      message: 'Transaction cancelled',
      $metadata: {},
      CancellationReasons: [{ Code: 'TransactionConflict' }, { Code: 'None' }],
    });
    const { client, sends } = scriptedClient([conflicted, {}]);
    const pools = [
      { pool: 'tenant-pool', capacity: 3 },
      { pool: 'node-pool', capacity: 10 },
    ];
    await expect(new DynamoSlotPool(client, 'table').acquireAll('run-1', pools, 60, [])).resolves.toBe(true);
    expect(sends()).toBe(2);
  });

  it('leaves a run to take its slots pool by pool when its transaction was refused for more than a conflict', async () => {
    const throttled = new TransactionCanceledException({
      message: 'Transaction cancelled',
      $metadata: {},
      CancellationReasons: [{ Code: 'TransactionConflict' }, { Code: 'ThrottlingError' }],
    });
    const { client, sends } = scriptedClient([throttled, {}]);
    const pools = [
      { pool: 'tenant-pool', capacity: 3 },
      { pool: 'node-pool', capacity: 10 },
    ];
    await expect(new DynamoSlotPool(client, 'table').acquireAll('run-1', pools, 60, [])).resolves.toBe(false);
    expect(sends()).toBe(1);
  });

  it('creates a pool on its first use when another run’s transaction held its key', async () => {
    const noPool = new ConditionalCheckFailedException({ message: 'condition', $metadata: {} });
    const { client, sends } = scriptedClient([noPool, conflict(), {}]);
    await expect(new DynamoSlotPool(client, 'table').acquire('pool', 'run-1', 3, 60)).resolves.toMatchObject({
      acquired: true,
      inUse: 1,
    });
    expect(sends()).toBe(3);
  });

  it('takes from a rate bucket when its item was inside another call’s transaction', async () => {
    const { client, sends } = scriptedClient([conflict(), { Attributes: { tat: Date.now() + 100 } }]);
    const limiter = new DynamoRateLimiter(client, 'table');
    await expect(limiter.take('bucket', { rate: 10, periodSeconds: 1, burst: 10 })).resolves.toMatchObject({
      allowed: true,
    });
    expect(sends()).toBe(2);
  });
});
