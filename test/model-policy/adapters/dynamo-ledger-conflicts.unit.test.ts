import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoLedger } from '../../../functions/model-policy/adapters/dynamodb/dynamo-ledger.ts';
import { DynamoRateLimiter } from '../../../functions/shared/limits/adapters/dynamo-rate-limiter.ts';
import { claimOf, tenantTotalLine } from '../../support/ledger-claims.ts';

/**
 * What the claim's transaction does when DynamoDB cancels it for the tenant's rate bucket alone:
 * real DynamoDB cancels two overlapping transactions on one item (TransactionConflict), which the
 * emulator, one operation at a time, never does.
 */
function scriptedClient(answers: unknown[]): { client: DynamoDBDocumentClient; sent: unknown[] } {
  const sent: unknown[] = [];
  const client = {
    send: (command: { input: unknown }) => {
      const answer = answers[Math.min(sent.length, answers.length - 1)];
      sent.push(command.input);
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, sent };
}

function cancelled(codes: string[]): TransactionCanceledException {
  return new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });
}

const now = Date.now();
const claim = claimOf('req-1');
const line = tenantTotalLine;
const bucket = {
  key: 'tenant/acme/limits/model-request-rate',
  limit: { rate: 20, periodSeconds: 1, burst: 40 },
};

function transactItems(input: unknown): unknown[] {
  return (input as { TransactItems: unknown[] }).TransactItems;
}

describe('DynamoLedger.claimAndReserve against a rate bucket in another transaction', () => {
  it('returns reserved without a rate decision, so the caller takes the bucket alone, when only the bucket conflicted', async () => {
    const { client, sent } = scriptedClient([cancelled(['None', 'None', 'TransactionConflict']), {}]);
    const ledger = new DynamoLedger(client, 'table', { rateLimiter: new DynamoRateLimiter(client, 'table') });
    const outcome = await ledger.claimAndReserve('acme', claim, [line], { tokens: 10, nano: 0 }, bucket);
    expect(outcome).toEqual({ outcome: 'reserved' });
    expect(sent).toHaveLength(2);
    // The second write holds the claim and the budget, not the bucket.
    expect(transactItems(sent[0])).toHaveLength(3);
    expect(transactItems(sent[1])).toHaveLength(2);
  });

  it('still has its attempts against contention after the bucket was planned again and dropped', async () => {
    const conflicted = cancelled(['TransactionConflict', 'None', 'None']);
    const bucketMoved = new TransactionCanceledException({
      message: 'Transaction cancelled',
      $metadata: {},
      CancellationReasons: [
        { Code: 'None' },
        { Code: 'None' },
        { Code: 'ConditionalCheckFailed', Item: { tat: { N: String(now + 1_000) } } },
      ],
    });
    const bucketStillMoving = cancelled(['None', 'None', 'ConditionalCheckFailed']);
    const claimConflict = cancelled(['TransactionConflict', 'None']);
    const { client, sent } = scriptedClient([
      conflicted,
      conflicted,
      conflicted,
      bucketMoved,
      bucketStillMoving,
      claimConflict,
      {},
    ]);
    const ledger = new DynamoLedger(client, 'table', { rateLimiter: new DynamoRateLimiter(client, 'table') });
    const outcome = await ledger.claimAndReserve('acme', claim, [line], { tokens: 10, nano: 0 }, bucket);
    expect(outcome).toEqual({ outcome: 'reserved' });
    expect(sent).toHaveLength(7);
  });
});
