import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { repositoryRoot } from '../../infra/build/bundle-layout.ts';
import { functionBuildOptions } from '../../infra/build/bundle-functions.ts';

/**
 * A program that parses junk against every request schema of both services' routes and prints the
 * issues zod reports: run from source and as bundled the way the functions are, it must print the
 * same, so the bundling (zod namespace imports, split chunks) cannot change a message the API returns.
 */
function probeSource(): string {
  // Absolute paths, which both Node and esbuild resolve (esbuild takes no file: URL).
  const module = (path: string) => JSON.stringify(join(repositoryRoot, path));
  return `
import { orchestratorRoutes } from ${module('functions/orchestrator/api/run-api.ts')};
import { modelPolicyRoutes } from ${module('functions/model-policy/api/model-policy-api.ts')};
const junk = [undefined, null, 'text', 42, [], {}, { unexpected: true }];
const report = [];
for (const route of [...orchestratorRoutes, ...modelPolicyRoutes]) {
  for (const part of ['params', 'query', 'body']) {
    const schema = route.request?.[part];
    if (schema === undefined) continue;
    const shape = schema.shape ?? {};
    const values = [
      ...junk,
      Object.fromEntries(Object.keys(shape).map((key) => [key, 12345])),
      Object.fromEntries(Object.keys(shape).map((key) => [key, 'x'.repeat(5000)])),
      Object.fromEntries(Object.keys(shape).map((key) => [key, ''])),
    ];
    for (const value of values) {
      const result = schema.safeParse(value);
      report.push([route.operationId, part, result.success ? 'ok' : result.error.issues]);
    }
  }
}
process.stdout.write(JSON.stringify(report));
`;
}

function run(file: string): { stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { stdout: result.stdout, stderr: result.stderr };
}

describe('the bundled validation', () => {
  it('returns the same zod issues, messages included, as the source for every request schema', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agentos-bundle-zod-'));
    const entry = join(dir, 'probe.ts');
    await writeFile(entry, probeSource());
    await build({ ...functionBuildOptions(entry, join(dir, 'out')), absWorkingDir: repositoryRoot });
    const fromSource = run(entry);
    const bundled = run(join(dir, 'out', 'index.mjs'));
    expect(fromSource.stderr).toBe('');
    expect(bundled.stderr).toBe('');
    const issues = JSON.parse(fromSource.stdout) as unknown[];
    expect(issues.length).toBeGreaterThan(100);
    expect(JSON.parse(bundled.stdout)).toEqual(issues);
  });
});
