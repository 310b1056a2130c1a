import { TransactionConflictException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient, UpdateCommandInput, UpdateCommandOutput } from '@aws-sdk/lib-dynamodb';
import { pauseAfterContention } from '../timing/contention-backoff.ts';

/** Attempts of one single-item write that meets items inside other transactions, the first included. */
export const conflictAttempts = 4;

/** True when DynamoDB refused a single-item write because the item is inside a transaction in flight. */
export function isTransactionConflict(error: unknown): boolean {
  return error instanceof TransactionConflictException;
}

/**
 * Runs `write`, and again while DynamoDB refuses it with TransactionConflictException: the item is
 * part of another caller's transaction in flight (the run slot pools and rate buckets are written
 * both alone and inside transactions, HLD §10.2). The SDK does not retry that refusal itself. At
 * most `attempts` writes in all, with a short jittered pause between them; the last refusal is
 * thrown, as is any other error at once.
 */
export async function retryOnTransactionConflict<T>(
  write: () => Promise<T>,
  options: { attempts?: number; pause?: (attempt: number) => Promise<void> } = {},
): Promise<T> {
  const attempts = options.attempts ?? conflictAttempts;
  const pause = options.pause ?? ((attempt) => pauseAfterContention(attempt, { baseMs: 5, maxMs: 100 }));
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await write();
    } catch (error) {
      if (!isTransactionConflict(error) || attempt + 1 >= attempts) throw error;
      await pause(attempt);
    }
  }
}

/**
 * One UpdateItem through {@link retryOnTransactionConflict}, every attempt bounded by `signal` (the
 * caller's whole budget, not one per attempt).
 */
export function updateRetryingConflicts(
  client: DynamoDBDocumentClient,
  input: UpdateCommandInput,
  signal: AbortSignal,
): Promise<UpdateCommandOutput> {
  return retryOnTransactionConflict(() => client.send(new UpdateCommand(input), { abortSignal: signal }));
}
