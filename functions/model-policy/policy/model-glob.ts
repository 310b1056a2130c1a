/**
 * Globs over model refs and principal ids: `*` matches any run of characters (slashes included),
 * `?` exactly one; everything else matches itself.
 */
export function globMatches(glob: string, value: string): boolean {
  const source = glob
    .split('')
    .map((char) => {
      if (char === '*') return '.*';
      if (char === '?') return '.';
      return char.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    })
    .join('');
  return new RegExp(`^${source}$`, 's').test(value);
}

/** True when `value` matches at least one glob. */
export function anyGlobMatches(globs: readonly string[], value: string): boolean {
  return globs.some((glob) => globMatches(glob, value));
}
