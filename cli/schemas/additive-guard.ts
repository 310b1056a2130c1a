#!/usr/bin/env node
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateApiDocuments } from './api-documents.ts';
import { findBreakingChanges, formatBreakingChange } from './breaking-changes.ts';
import type { BreakingChange } from './breaking-changes.ts';
import { canonicalJson } from './canonical-json.ts';
import type { JsonObject } from './json-value.ts';
import { baselineDir, documentFileName } from './schema-paths.ts';

/**
 * The additive-only guard: compares the API the code describes now with the accepted baseline in
 * schemas/baseline/ and exits 1 listing every change that would break an existing client. With
 * --accept it records the current API as the new baseline (the deliberate way to make a breaking
 * change, reviewed in the diff of schemas/baseline/). --baseline-dir compares with another directory.
 */

function main(): number {
  const { values } = parseArgs({
    options: {
      accept: { type: 'boolean', default: false },
      'baseline-dir': { type: 'string', default: baselineDir },
    },
    strict: true,
  });
  const dir = resolve(values['baseline-dir']);
  const documents = generateApiDocuments();
  const breaking: BreakingChange[] = [];

  for (const { name, document } of documents) {
    const path = join(dir, documentFileName(name));
    if (!existsSync(path)) {
      breaking.push({ location: documentFileName(name), message: 'has no baseline yet' });
      continue;
    }
    const result = findBreakingChanges(JSON.parse(readFileSync(path, 'utf8')) as JsonObject, document);
    for (const notice of result.notices) console.log(`note: ${name}: ${notice}`);
    breaking.push(
      ...result.breaking.map((change) => ({ ...change, location: `${name}: ${change.location}` })),
    );
  }
  const current = new Set(documents.map(({ name }) => documentFileName(name)));
  if (existsSync(dir)) {
    for (const file of readdirSync(dir).filter((entry) => entry.endsWith('.openapi.json'))) {
      if (!current.has(file)) breaking.push({ location: file, message: 'the whole API was removed' });
    }
  }

  if (values.accept) {
    mkdirSync(dir, { recursive: true });
    for (const { name, document } of documents) {
      writeFileSync(join(dir, documentFileName(name)), canonicalJson(document));
    }
    for (const change of breaking) console.log(`accepted: ${formatBreakingChange(change)}`);
    console.log(`Baseline updated in ${dir}`);
    return 0;
  }
  if (breaking.length === 0) {
    console.log('Additive-only guard: no breaking changes against the baseline');
    return 0;
  }
  console.error(`Additive-only guard: ${breaking.length} breaking change(s) against ${dir}:`);
  for (const change of breaking) console.error(`  ${formatBreakingChange(change)}`);
  console.error(
    'Make the change additive (new optional request fields, new response fields), or accept it deliberately with: node cli/schemas/additive-guard.ts --accept',
  );
  return 1;
}

process.exitCode = main();
