import { InvalidRequestError } from '../../shared/errors/agentos-error.ts';

/**
 * Pages of a tenant's ids (agents, tools) ordered by id, with an opaque cursor: the base64url form
 * of the last id a page returned. Registries of every adapter share it, so a cursor means the same
 * thing whichever adapter issued it.
 */

const cursorPattern = /^[A-Za-z0-9_-]{1,128}$/;
const idPattern = /^[A-Za-z0-9._-]{1,64}$/;

/** The cursor that resumes a listing after `id`. */
export function encodeIdCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

/** The id a cursor resumes after; a cursor this module did not make is `invalid_request` naming `cursor`. */
export function decodeIdCursor(cursor: string): string {
  const id = cursorPattern.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  if (!idPattern.test(id) || encodeIdCursor(id) !== cursor)
    throw new InvalidRequestError('The cursor is not one this list returned', [
      { field: 'cursor', message: 'malformed cursor' },
    ]);
  return id;
}

/**
 * One page of `ids` (any order, no duplicates): the `limit` smallest after the cursor, and the
 * cursor of the next page (null on the last one).
 */
export function pageOfIds(
  ids: Iterable<string>,
  page: { limit: number; cursor?: string | undefined },
): { ids: string[]; nextCursor: string | null } {
  const after = page.cursor === undefined ? undefined : decodeIdCursor(page.cursor);
  const sorted = [...ids].filter((id) => after === undefined || id > after).sort();
  const taken = sorted.slice(0, page.limit);
  const last = taken.at(-1);
  return {
    ids: taken,
    nextCursor: sorted.length > taken.length && last !== undefined ? encodeIdCursor(last) : null,
  };
}
