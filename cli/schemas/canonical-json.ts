import type { JsonValue } from './json-value.ts';
import { isJsonObject } from './json-value.ts';

function sortKeys(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!isJsonObject(value)) return value;
  const sorted: Record<string, JsonValue> = {};
  for (const key of Object.keys(value).sort()) sorted[key] = sortKeys(value[key]!);
  return sorted;
}

/**
 * The one byte-for-byte form of a generated document: keys sorted at every level (arrays keep their
 * order), two-space indent, trailing newline. Equal documents always serialize to equal text, so
 * staleness is a string comparison and diffs stay small.
 */
export function canonicalJson(value: JsonValue): string {
  return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
}
