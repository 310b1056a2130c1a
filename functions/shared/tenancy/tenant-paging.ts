import { InvalidRequestError } from '../errors/agentos-error.ts';

/** An opaque page position of a directory listing (base64url JSON of the last key seen). */
export type Cursor = string;

const cursorPattern = /^[A-Za-z0-9_-]{1,400}$/;

/** The cursor that resumes a listing after `id`. */
export function encodeCursor(id: string): Cursor {
  return Buffer.from(JSON.stringify(id), 'utf8').toString('base64url');
}

/** The id a cursor resumes after; a cursor no listing made is `invalid_request` naming `cursor`. */
export function decodeCursor(cursor: Cursor): string {
  let id: unknown;
  try {
    id = cursorPattern.test(cursor)
      ? JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
      : undefined;
  } catch {
    id = undefined;
  }
  if (typeof id !== 'string' || id === '' || encodeCursor(id) !== cursor)
    throw new InvalidRequestError('The cursor is not one this list returned', [
      { field: 'cursor', message: 'malformed cursor' },
    ]);
  return id;
}

/**
 * One page of `items` ordered by `idOf`: the `limit` first after the cursor and the cursor of the
 * next page (null on the last one). Every directory adapter pages this way, so a cursor means the
 * same whichever adapter issued it.
 */
export function pageBy<T>(
  items: Iterable<T>,
  idOf: (item: T) => string,
  page: { limit: number; cursor?: Cursor | undefined },
): { items: T[]; next: Cursor | null } {
  const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor);
  const sorted = [...items]
    .filter((item) => after === undefined || idOf(item) > after)
    .sort((a, b) => (idOf(a) < idOf(b) ? -1 : idOf(a) > idOf(b) ? 1 : 0));
  const taken = sorted.slice(0, Math.max(0, page.limit));
  const last = taken.at(-1);
  return {
    items: taken,
    next: sorted.length > taken.length && last !== undefined ? encodeCursor(idOf(last)) : null,
  };
}
