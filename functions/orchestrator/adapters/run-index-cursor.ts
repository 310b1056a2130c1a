import { InvalidRequestError } from '../../shared/errors/agentos-error.ts';

/**
 * The order of a run in its tenant's run index: creation time in milliseconds times 1000 plus a
 * tie-breaker (0-999), so runs created in the same millisecond still get distinct places, and the
 * number stays an exact integer in JavaScript.
 */
export function runIndexSortKey(createdAt: string, tieBreaker: number): number {
  return Date.parse(createdAt) * 1000 + (Math.abs(Math.trunc(tieBreaker)) % 1000);
}

/** The opaque cursor of a `listRuns` page: the index place of the last run it returned. */
export function encodeRunCursor(sortKey: number): string {
  return Buffer.from(JSON.stringify({ before: sortKey }), 'utf8').toString('base64url');
}

/**
 * The index place a cursor continues before.
 *
 * @throws InvalidRequestError when the cursor is not one `listRuns` gave out.
 */
export function decodeRunCursor(cursor: string): number {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (cause) {
    throw new InvalidRequestError('The cursor is malformed', [{ field: 'cursor', message: 'malformed' }], {
      cause,
    });
  }
  const before = (parsed as { before?: unknown } | null)?.before;
  if (typeof before !== 'number' || !Number.isSafeInteger(before) || before < 0) {
    throw new InvalidRequestError('The cursor is malformed', [{ field: 'cursor', message: 'malformed' }]);
  }
  return before;
}
