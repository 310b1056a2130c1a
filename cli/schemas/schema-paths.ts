import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `schemas/` at the repository root (this file lives in cli/schemas/). */
export const schemasDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'schemas');

/** Where the accepted API surface lives, against which the additive-only guard compares. */
export const baselineDir = join(schemasDir, 'baseline');

/** Hand-written, reviewed JSON examples, validated by test/schemas. */
export const examplesDir = join(schemasDir, 'examples');

/** The file name of a document, e.g. `orchestrator.openapi.json`. */
export function documentFileName(name: string): string {
  return `${name}.openapi.json`;
}
