import { InvalidRequestError } from '../errors/agentos-error.ts';
import { hashedSortKey } from '../storage/keys.ts';

/**
 * An opaque page position of a directory listing (base64url JSON of the position of the last
 * record passed). Listings run in the order of their records' positions ({@link positionOf}), a
 * stable order that is not alphabetical, so a page is one bounded read of the store.
 */
export type Cursor = string;

const cursorPattern = /^[A-Za-z0-9_-]{1,400}$/;

/** Where a record of `id` stands in a listing: its storage sort key. */
export function positionOf(id: string): number {
  return hashedSortKey(id);
}

/** The cursor that resumes a listing after `position`. */
export function encodeCursor(position: number): Cursor {
  return Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');
}

/** The position a cursor resumes after; a cursor no listing made is `invalid_request` naming `cursor`. */
export function decodeCursor(cursor: Cursor): number {
  let position: unknown;
  try {
    position = cursorPattern.test(cursor)
      ? JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
      : undefined;
  } catch {
    position = undefined;
  }
  if (
    typeof position !== 'number' ||
    !Number.isSafeInteger(position) ||
    position < 0 ||
    encodeCursor(position) !== cursor
  )
    throw new InvalidRequestError('The cursor is not one this list returned', [
      { field: 'cursor', message: 'malformed cursor' },
    ]);
  return position;
}

/**
 * One page of in-memory `items` in listing order: the `limit` first after the cursor and the cursor
 * of the next page (null on the last one), as the stored adapters page, so a cursor means the same
 * whichever adapter issued it.
 */
export function pageBy<T>(
  items: Iterable<T>,
  idOf: (item: T) => string,
  page: { limit: number; cursor?: Cursor | undefined },
): { items: T[]; next: Cursor | null } {
  const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor);
  const sorted = [...items]
    .map((item) => ({ item, position: positionOf(idOf(item)) }))
    .filter((entry) => after === undefined || entry.position > after)
    .sort((a, b) => a.position - b.position);
  const taken = sorted.slice(0, Math.max(0, page.limit));
  const last = taken.at(-1);
  return {
    items: taken.map((entry) => entry.item),
    next: sorted.length > taken.length && last !== undefined ? encodeCursor(last.position) : null,
  };
}
