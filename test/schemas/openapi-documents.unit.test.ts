import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateApiDocuments } from '../../cli/schemas/api-documents.ts';
import { canonicalJson } from '../../cli/schemas/canonical-json.ts';
import type { JsonObject } from '../../cli/schemas/json-value.ts';
import { documentFileName, schemasDir } from '../../cli/schemas/schema-paths.ts';
import { committedDocument } from './support/example-catalog.ts';
import { unsupportedKeywords } from './support/json-schema-validator.ts';
import { openApiStructureProblems } from './support/openapi-structure.ts';
import { runSchemaScript } from './support/run-script.ts';

const generated = generateApiDocuments();
const named = generated.map(({ name, document }) => [name, document] as const);

describe('the committed OpenAPI documents', () => {
  it.each(named)('schemas/%s.openapi.json is exactly what the code generates', (name, document) => {
    const committed = readFileSync(join(schemasDir, documentFileName(name)), 'utf8');
    // On failure: node cli/schemas/generate-openapi.ts
    expect(committed).toBe(canonicalJson(document));
  });

  it('has no document the code no longer generates', () => {
    const expected = generated.map(({ name }) => documentFileName(name)).sort();
    expect(
      readdirSync(schemasDir)
        .filter((file) => file.endsWith('.openapi.json'))
        .sort(),
    ).toEqual(expected);
  });

  it('generates the same bytes every time', () => {
    expect(generateApiDocuments().map(({ document }) => canonicalJson(document))).toEqual(
      generated.map(({ document }) => canonicalJson(document)),
    );
  });

  it.each(named)('%s is a well-formed OpenAPI 3.1 document', (name) => {
    expect(openApiStructureProblems(committedDocument(name))).toEqual([]);
  });

  it.each(named)('%s uses only JSON Schema keywords and formats a strict validator knows', (name) => {
    const document = committedDocument(name);
    const schemas = (document['components'] as JsonObject)['schemas'] as JsonObject;
    expect(Object.values(schemas).flatMap((schema) => unsupportedKeywords(document, schema))).toEqual([]);
  });

  it('marks no federation operation as designed only: the Orchestrator serves each', () => {
    const federation = committedDocument('federation');
    expect((federation['info'] as JsonObject)['x-status']).toBeUndefined();
    const implemented = Object.values(federation['paths'] as JsonObject)
      .flatMap((item) => Object.values(item as JsonObject) as JsonObject[])
      .map((operation) => [operation['operationId'], operation['x-implemented'] ?? true]);
    expect(Object.fromEntries(implemented)).toEqual({
      getPeerInfo: true,
      getPeerCapabilities: true,
      forwardRun: true,
      cancelForwardedRun: true,
      ingestEvents: true,
    });
  });
});

describe('node cli/schemas/generate-openapi.ts', () => {
  it('--check passes on the committed documents', () => {
    const result = runSchemaScript('generate-openapi.ts', ['--check']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('--check exits 1 naming what is stale, and a plain run brings the documents up to date', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentos-openapi-'));
    expect(runSchemaScript('generate-openapi.ts', ['--dir', dir]).status).toBe(0);
    const file = join(dir, documentFileName('orchestrator'));
    const document = JSON.parse(readFileSync(file, 'utf8')) as JsonObject;
    (document['info'] as JsonObject)['version'] = '0.0.1';
    writeFileSync(file, canonicalJson(document));

    const stale = runSchemaScript('generate-openapi.ts', ['--check', '--dir', dir]);
    expect(stale.status).toBe(1);
    expect(stale.stderr).toContain('orchestrator.openapi.json is stale (1 difference(s))');
    expect(stale.stderr).toContain('~ /info/version');

    expect(runSchemaScript('generate-openapi.ts', ['--dir', dir]).status).toBe(0);
    expect(runSchemaScript('generate-openapi.ts', ['--check', '--dir', dir]).status).toBe(0);
  });
});
