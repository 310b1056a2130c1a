import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleFunctions, MissingEntryError } from '../../infra/build/bundle-functions.ts';
import { bundleDirectory, bundleFile, metafileName } from '../../infra/build/bundle-layout.ts';
import { probeBundleLoad, sampleFunctionEnvironment } from '../../infra/build/bundle-load-probe.ts';
import { functionDefinitions } from '../../infra/resources/definitions.ts';
import type { FunctionName } from '../../infra/resources/definitions.ts';
import { environmentOf, functionResource, synthesizeNodeStack, testBundlesDir } from './node-template.ts';

const functionNames = Object.keys(functionDefinitions) as FunctionName[];

/** What the Lambda runtime itself sets in every function's environment (the relevant part). */
const lambdaRuntimeEnvironment = {
  AWS_REGION: 'us-east-1',
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
  LAMBDA_TASK_ROOT: '/var/task',
  _HANDLER: 'index.handler',
  TZ: ':UTC',
};

/**
 * The environment a function gets when deployed: the stack's variables, with each CloudFormation
 * expression (a Ref to the table, a queue URL, a parameter…) replaced by a sample of what it
 * resolves to, plus what the Lambda runtime sets.
 */
function deployedEnvironment(
  declared: Record<string, unknown>,
  samples: Record<string, string>,
  name: FunctionName,
): Record<string, string> {
  const environment: Record<string, string> = { ...lambdaRuntimeEnvironment, AWS_LAMBDA_FUNCTION_NAME: name };
  for (const [variable, value] of Object.entries(declared)) {
    const resolved = typeof value === 'string' ? value : samples[variable];
    if (resolved === undefined)
      throw new Error(`No sample value for ${variable}; add one to sampleFunctionEnvironment`);
    environment[variable] = resolved;
  }
  return environment;
}

describe('the Lambda bundles', () => {
  let bundlesDir: string;
  let samples: Record<string, string>;
  let environments: Record<FunctionName, Record<string, string>>;

  beforeAll(async () => {
    // A temporary directory: no node_modules above it, as in Lambda.
    bundlesDir = await testBundlesDir();
    samples = await sampleFunctionEnvironment();
    const { stack, template } = await synthesizeNodeStack();
    environments = Object.fromEntries(
      functionNames.map((name) => [
        name,
        deployedEnvironment(environmentOf(functionResource(stack, template, name)), samples, name),
      ]),
    ) as Record<FunctionName, Record<string, string>>;
  });

  it.each(functionNames)(
    '%s loads in a fresh Node process with the environment the stack gives it, and exports a handler',
    async (name) => {
      const outcome = await probeBundleLoad(bundleFile(bundlesDir, name), environments[name]);
      expect(outcome.error).toBeUndefined();
      expect(outcome).toMatchObject({ loaded: true, handlerType: 'function' });
    },
  );

  it.each(functionNames)(
    '%s loads each chunk it imports on first use, as the handler would on that use',
    async (name) => {
      const asset = bundleDirectory(bundlesDir, name);
      const chunks = (await readdir(join(asset, 'chunks'))).filter((file) => file.endsWith('.mjs'));
      expect(chunks.length).toBeGreaterThan(0);
      for (const chunk of chunks) {
        const outcome = await probeBundleLoad(join(asset, 'chunks', chunk), environments[name]);
        expect({ chunk, error: outcome.error, loaded: outcome.loaded }).toEqual({
          chunk,
          error: undefined,
          loaded: true,
        });
      }
    },
  );

  it('fails to load without a setting its composition root requires, naming the setting', async () => {
    const withoutTable = { ...environments.stepWorker };
    delete withoutTable['AGENTOS_TABLE_NAME'];
    const outcome = await probeBundleLoad(bundleFile(bundlesDir, 'stepWorker'), withoutTable);
    expect(outcome.loaded).toBe(false);
    expect(outcome.error).toContain('AGENTOS_TABLE_NAME');
  });

  it('bundle the AWS SDK and every other package instead of importing them at run time', async () => {
    for (const name of functionNames) {
      const metafile = JSON.parse(
        await readFile(join(bundleDirectory(bundlesDir, name), metafileName), 'utf8'),
      ) as Metafile;
      // The entry and its chunks, those loaded on first use included.
      const outputs = Object.values(metafile.outputs);
      const runtimeImports = outputs
        .flatMap((output) => output.imports)
        .filter((imported) => imported.external);
      expect(runtimeImports.filter((imported) => !isBuiltin(imported.path))).toEqual([]);
      expect(
        outputs.some((output) =>
          Object.keys(output.inputs).some((input) => input.includes('node_modules/@aws-sdk/')),
        ),
      ).toBe(true);
    }
  });
});

describe('bundleFunctions', () => {
  it('throws naming the entry when a function entry file is missing', async () => {
    const emptyRoot = await mkdtemp(join(tmpdir(), 'agentos-no-entries-'));
    const bundling = bundleFunctions({
      root: emptyRoot,
      outDir: join(emptyRoot, 'out'),
      functions: ['stepWorker'],
    });
    await expect(bundling).rejects.toThrow(MissingEntryError);
    await expect(bundling).rejects.toThrow(functionDefinitions.stepWorker.entry);
  });

  it('returns each bundle with its size at init and the size of its whole asset', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'agentos-bundle-one-'));
    const [result] = await bundleFunctions({ outDir, functions: ['orchestratorEvents'] });
    const outFile = bundleFile(outDir, 'orchestratorEvents');
    const asset = bundleDirectory(outDir, 'orchestratorEvents');
    const javascript = (await readdir(asset, { recursive: true })).filter((file) => file.endsWith('.mjs'));
    const sizes = await Promise.all(javascript.map(async (file) => (await stat(join(asset, file))).size));
    expect(result).toMatchObject({
      name: 'orchestratorEvents',
      outFile,
      assetBytes: sizes.reduce((sum, size) => sum + size, 0),
    });
    // The entry and its static chunks: more than the entry file, less than the asset with its lazy chunks.
    expect(result!.bytes).toBeGreaterThan((await stat(outFile)).size);
    expect(result!.bytes).toBeLessThan(result!.assetBytes);
  });
});
