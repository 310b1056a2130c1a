#!/usr/bin/env node
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateApiDocuments } from './api-documents.ts';
import { canonicalJson } from './canonical-json.ts';
import { jsonDifferences } from './json-differences.ts';
import type { JsonValue } from './json-value.ts';
import { documentFileName, schemasDir } from './schema-paths.ts';

/**
 * Writes schemas/<name>.openapi.json from the zod schemas and operation lists, deterministically.
 * With --check it writes nothing and exits 1 when a committed document differs from what the code
 * generates, listing where. --dir writes to (or checks) another directory.
 */

const shownDifferences = 20;
const markers = { added: '+', removed: '-', changed: '~' } as const;

function main(): number {
  const { values } = parseArgs({
    options: {
      check: { type: 'boolean', default: false },
      dir: { type: 'string', default: schemasDir },
    },
    strict: true,
  });
  const dir = resolve(values.dir);
  let stale = 0;
  for (const { name, document } of generateApiDocuments()) {
    const path = join(dir, documentFileName(name));
    const text = canonicalJson(document);
    const shown = relative(process.cwd(), path);
    const committed = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    if (!values.check) {
      mkdirSync(dir, { recursive: true });
      if (committed !== text) writeFileSync(path, text);
      console.log(`${committed === text ? 'unchanged' : 'wrote'} ${shown}`);
      continue;
    }
    if (committed === text) continue;
    stale += 1;
    if (committed === undefined) {
      console.error(`${shown} is missing`);
      continue;
    }
    const differences = jsonDifferences(JSON.parse(committed) as JsonValue, JSON.parse(text) as JsonValue);
    console.error(
      `${shown} is stale (${differences.length === 0 ? 'formatting only' : `${differences.length} difference(s)`}):`,
    );
    for (const difference of differences.slice(0, shownDifferences)) {
      console.error(`  ${markers[difference.kind]} ${difference.pointer}`);
    }
    if (differences.length > shownDifferences)
      console.error(`  … and ${differences.length - shownDifferences} more`);
  }
  if (stale > 0) {
    console.error('Regenerate with: node cli/schemas/generate-openapi.ts');
    return 1;
  }
  if (values.check) console.log('OpenAPI documents are up to date');
  return 0;
}

process.exitCode = main();
