import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleBudgets, sdkClientsOf } from '../../infra/build/bundle-budgets.ts';
import { bundleFunctions } from '../../infra/build/bundle-functions.ts';
import type { BundleResult } from '../../infra/build/bundle-functions.ts';
import { functionDefinitions } from '../../infra/resources/definitions.ts';
import { metafileName } from '../../infra/build/bundle-layout.ts';
import type { Metafile } from 'esbuild';
import type { FunctionName } from '../../infra/resources/definitions.ts';

const functionNames = Object.keys(functionDefinitions) as FunctionName[];

describe('the Lambda bundles at init', () => {
  const bundles = new Map<FunctionName, BundleResult>();
  let outDir = '';

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'agentos-bundle-budget-'));
    for (const result of await bundleFunctions({ outDir })) bundles.set(result.name, result);
  });

  it('has a budget for every function', () => {
    expect(Object.keys(bundleBudgets).sort()).toEqual([...functionNames].sort());
  });

  it.each(functionNames)('%s loads no more JavaScript at init than its budget', (name) => {
    const bundle = bundles.get(name)!;
    expect(bundle.bytes / 1024).toBeLessThanOrEqual(bundleBudgets[name].initKiB);
  });

  it.each(functionNames)('%s loads exactly the AWS SDK clients it uses at init', (name) => {
    expect(sdkClientsOf(bundles.get(name)!.initialInputs)).toEqual([...bundleBudgets[name].clients].sort());
  });

  it('returns the events function without the SQS, Step Functions and Secrets Manager clients at init', () => {
    const clients = sdkClientsOf(bundles.get('orchestratorEvents')!.initialInputs);
    for (const client of ['client-sqs', 'client-sfn', 'client-secrets-manager'])
      expect(clients).not.toContain(`@aws-sdk/${client}`);
  });

  it('loads in the events function the streaming routes’ declarations and no other route’s', () => {
    const inputs = bundles.get('orchestratorEvents')!.initialInputs;
    expect(inputs).toContain('functions/orchestrator/api/run-events-api.ts');
    for (const other of [
      'run-api.ts',
      'tenant-admin-api.ts',
      'principal-api.ts',
      'agent-api.ts',
      'memory-api.ts',
    ])
      expect(inputs).not.toContain(`functions/orchestrator/api/${other}`);
  });

  it.each(functionNames)('%s carries no zod locale but English', (name) => {
    const bundle = bundles.get(name)!;
    const locales = bundle.initialInputs.filter((input) => /node_modules\/zod\/v4\/locales\//.test(input));
    expect(locales.filter((input) => !input.endsWith('/en.js'))).toEqual([]);
  });

  const initialPackages = (name: FunctionName, pattern: RegExp) =>
    bundles.get(name)!.initialInputs.filter((input) => pattern.test(input));

  it.each(functionNames)('%s loads no JSON Schema validator at init', (name) => {
    // Tool-argument checks and structured output import Ajv on their first use.
    expect(initialPackages(name, /node_modules\/(ajv|ajv-formats)\//)).toEqual([]);
  });

  // Tool-argument patterns and tenant policies' deny patterns import RE2 with the first that needs it.
  it.each(functionNames)('%s loads no RE2 engine at init', (name) => {
    expect(initialPackages(name, /node_modules\/re2js\//)).toEqual([]);
  });

  it('keeps RE2 in the Model Policy API’s asset, for the first policy with a content pattern', async () => {
    const meta = JSON.parse(await readFile(join(outDir, 'modelPolicyApi', metafileName), 'utf8')) as Metafile;
    // Not at init (the case above), so in a chunk the asset loads on first use.
    const withRe2 = Object.entries(meta.outputs).filter(
      ([path, output]) =>
        path.endsWith('.mjs') &&
        Object.keys(output.inputs).some((input) => input.includes('node_modules/re2js/')),
    );
    expect(withRe2).not.toEqual([]);
  });

  it('keeps the step worker’s schema validator in its asset, for its first tool call', async () => {
    const asset = await readdir(join(outDir, 'stepWorker', 'chunks'));
    const sources = await Promise.all(
      asset.map((chunk) => readFile(join(outDir, 'stepWorker', 'chunks', chunk), 'utf8')),
    );
    expect(sources.some((source) => source.includes('ToolArgumentValidator'))).toBe(true);
  });
});
