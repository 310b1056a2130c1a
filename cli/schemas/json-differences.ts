import { isDeepStrictEqual } from 'node:util';
import type { JsonValue } from './json-value.ts';
import { isJsonObject } from './json-value.ts';

/** One difference between two JSON documents, at a JSON Pointer. */
export type JsonDifference = { pointer: string; kind: 'added' | 'removed' | 'changed' };

function escape(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Where `expected` and `actual` differ, deepest first-differing points only, in document order. */
export function jsonDifferences(expected: JsonValue, actual: JsonValue, pointer = ''): JsonDifference[] {
  if (isDeepStrictEqual(expected, actual)) return [];
  if (isJsonObject(expected) && isJsonObject(actual)) {
    const keys = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
    return keys.flatMap((key): JsonDifference[] => {
      const at = `${pointer}/${escape(key)}`;
      if (!(key in actual)) return [{ pointer: at, kind: 'removed' }];
      if (!(key in expected)) return [{ pointer: at, kind: 'added' }];
      return jsonDifferences(expected[key]!, actual[key]!, at);
    });
  }
  return [{ pointer: pointer === '' ? '/' : pointer, kind: 'changed' }];
}
