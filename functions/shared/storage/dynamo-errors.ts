import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DependencyUnavailableError } from '../errors/agentos-error.ts';

/** True for a failed conditional write. */
export function isConditionFailure(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException;
}

/** The per-item reasons of a canceled transaction, or `undefined` when `error` is something else. */
export function cancellationCodes(error: unknown): string[] | undefined {
  if (!(error instanceof TransactionCanceledException)) return undefined;
  return (error.CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');
}

/** Wraps an unexpected storage failure so callers see `dependency_unavailable`, never a raw SDK error. */
export function storageUnavailable(cause: unknown): DependencyUnavailableError {
  return new DependencyUnavailableError('The state store is unavailable', { cause });
}
