import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FunctionName } from '../resources/definitions.ts';

/** The repository root (this file lives in infra/build/). */
export const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where `bundleFunctions` writes by default, and where the CDK app takes Lambda code from. */
export const defaultBundlesDir = join(repositoryRoot, 'dist', 'functions');

/** The file name of every bundle; Lambda's handler setting is `index.handler`. */
export const bundleFileName = 'index.mjs';

/** The directory holding one function's bundle: the Lambda asset, as deployed. */
export function bundleDirectory(bundlesDir: string, name: FunctionName): string {
  return join(bundlesDir, name);
}

/** The bundle file of one function. */
export function bundleFile(bundlesDir: string, name: FunctionName): string {
  return join(bundleDirectory(bundlesDir, name), bundleFileName);
}

/** Where esbuild puts the chunks an entry shares with its lazily imported modules, in its asset. */
export const chunkNames = 'chunks/[name]-[hash]';

/** esbuild's metafile, kept beside each bundle for size analysis. */
export const metafileName = 'meta.json';

/** Files beside a bundle that are for people, not for Lambda: kept out of the deployed asset. */
export const nonDeployedBundleFiles = ['*.map', '**/*.map', metafileName];
