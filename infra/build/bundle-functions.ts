import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { build } from 'esbuild';
import type { BuildOptions, Metafile, Plugin } from 'esbuild';
import { functionDefinitions } from '../resources/definitions.ts';
import type { FunctionName } from '../resources/definitions.ts';
import {
  bundleDirectory,
  bundleFile,
  bundleFileName,
  chunkNames,
  defaultBundlesDir,
  metafileName,
  repositoryRoot,
} from './bundle-layout.ts';

/** What to bundle, and where. */
export type BundleOptions = {
  /** Output root; each function lands in `<outDir>/<name>/index.mjs`. Default: dist/functions. */
  outDir?: string;
  /** A subset of functions; default: every function in `functionDefinitions`. */
  functions?: readonly FunctionName[];
  /** Repository root the entries are relative to. */
  root?: string;
};

/** The largest contributors to a bundle, by package (or first-party folder). */
export type BundleInput = { source: string; bytes: number };

/** One function's bundle. */
export type BundleResult = {
  name: FunctionName;
  outFile: string;
  /**
   * Bytes Lambda's init phase loads: the entry file and the chunks it imports statically. Chunks
   * reached only through `await import()` load on first use and are counted in `assetBytes` alone.
   */
  bytes: number;
  /** Bytes of every JavaScript file of the asset, the lazily loaded chunks included. */
  assetBytes: number;
  /** The source files (repository-relative, or under `node_modules/`) the init phase loads. */
  initialInputs: string[];
  /** Top contributors to `bytes`, largest first. */
  largestInputs: BundleInput[];
  warnings: string[];
};

/** Thrown when a function's entry file is missing, naming the entry. */
export class MissingEntryError extends Error {
  readonly functionName: FunctionName;
  readonly entry: string;

  constructor(functionName: FunctionName, entry: string) {
    super(`Lambda entry for "${functionName}" does not exist: ${entry} (see infra/resources/definitions.ts)`);
    this.name = 'MissingEntryError';
    this.functionName = functionName;
    this.entry = entry;
  }
}

/**
 * ESM output has no `require`; some bundled CommonJS dependencies call it for Node built-ins, so
 * each bundle defines one before anything else runs.
 */
const requireBanner = [
  "import { createRequire as __agentosCreateRequire } from 'node:module';",
  'const require = __agentosCreateRequire(import.meta.url);',
].join('\n');

/**
 * zod's package root exports its API as one namespace object, `z`. A named import of that object
 * (`import { z } from 'zod'`) makes esbuild keep every export of the namespace, the ~40 locales and
 * the JSON Schema converters included (~460 KiB minified), even though only `en` is ever used; a
 * namespace import (`import * as z from 'zod'`) binds the very same exports and lets esbuild keep
 * only those the code reads. This plugin compiles the first form as the second, so the source keeps
 * the idiom zod documents and the bundles keep only the zod they use. Messages are unchanged: zod
 * registers `en` itself on first use.
 */
export const zodNamespaceImports: Plugin = {
  name: 'agentos-zod-namespace-imports',
  setup(builder) {
    const namedImport = /^import \{ z \} from 'zod';$/gm;
    builder.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (args.path.includes('/node_modules/')) return undefined;
      const source = await readFile(args.path, 'utf8');
      return { contents: source.replace(namedImport, "import * as z from 'zod';"), loader: 'ts' };
    });
  },
};

/**
 * Node's built-ins, reached through `require` rather than `import`. Importing a built-in as ES
 * module makes Node build its ESM facade, which reads every export, lazy getters included:
 * `node:http`'s load undici (~30 ms of a cold start) for WebSocket classes no function uses. Through
 * the bundle's `require` (see `requireBanner`), exports are read only when used. A dynamic
 * `import()` of a built-in is left as it is.
 */
export const builtinsThroughRequire: Plugin = {
  name: 'agentos-builtins-through-require',
  setup(builder) {
    const namespace = 'agentos-builtin';
    builder.onResolve({ filter: /^[a-z_:/]+$/ }, (args) => {
      if (args.namespace === namespace || !isBuiltin(args.path) || args.path.startsWith('node:test'))
        return undefined;
      // `await import()` of a built-in stays a native import: through `require` esbuild would hand
      // back a namespace without the module's named exports (`AsyncLocalStorage` read as undefined).
      if (args.kind === 'dynamic-import') return { path: args.path, external: true };
      return { path: args.path, namespace };
    });
    builder.onResolve({ filter: /.*/, namespace }, (args) => ({ path: args.path, external: true }));
    builder.onLoad({ filter: /.*/, namespace }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

/** The esbuild options of one function's bundle: its entry file, into `outDir`. */
export function functionBuildOptions(entry: string, outDir: string): BuildOptions {
  return {
    entryPoints: { [bundleFileName.replace(/\.mjs$/, '')]: entry },
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    // `await import()` stays a separate chunk, loaded on first use instead of at init: the AWS SDK's
    // credential providers other than the environment's, and what a function rarely needs.
    splitting: true,
    chunkNames,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    // Prefer the ESM builds of dependencies: they tree-shake far better than their CJS builds.
    mainFields: ['module', 'main'],
    minify: true,
    treeShaking: true,
    // Errors set `name` from their class (`new.target.name`); keep class names readable in logs.
    keepNames: true,
    sourcemap: 'external',
    legalComments: 'none',
    // Nothing is external: the AWS SDK is bundled at the version the tests ran against, not the
    // runtime's.
    external: [],
    banner: { js: requireBanner },
    metafile: true,
    logLevel: 'silent',
    plugins: [zodNamespaceImports, builtinsThroughRequire],
  };
}

/** Groups a metafile input path by npm package (`node_modules/<pkg>`) or first-party top folder. */
function inputGroup(path: string): string {
  const marker = 'node_modules/';
  const at = path.lastIndexOf(marker);
  if (at >= 0) {
    const rest = path.slice(at + marker.length).split('/');
    return rest[0]?.startsWith('@') === true ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? path);
  }
  return path.split('/').slice(0, 2).join('/');
}

/** The output files the entry loads at init: itself and the chunks it imports statically. */
export function initialOutputs(metafile: Metafile, outFile: string, root: string): string[] {
  const outputs = metafile.outputs;
  const entry = Object.keys(outputs).find((path) => resolve(root, path) === outFile);
  const loaded = new Set<string>();
  const pending = entry === undefined ? [] : [entry];
  for (let path = pending.pop(); path !== undefined; path = pending.pop()) {
    if (loaded.has(path)) continue;
    loaded.add(path);
    for (const imported of outputs[path]?.imports ?? [])
      if (imported.kind === 'import-statement' && !imported.external) pending.push(imported.path);
  }
  return [...loaded];
}

/** Input paths relative to `node_modules/` when they are a package's, else to the repository. */
function inputName(path: string): string {
  const marker = 'node_modules/';
  const at = path.lastIndexOf(marker);
  return at >= 0 ? path.slice(at) : path;
}

function largestInputs(metafile: Metafile, outputs: readonly string[], limit: number): BundleInput[] {
  const totals = new Map<string, number>();
  for (const output of outputs) {
    for (const [path, input] of Object.entries(metafile.outputs[output]?.inputs ?? {})) {
      const group = inputGroup(path);
      totals.set(group, (totals.get(group) ?? 0) + input.bytesInOutput);
    }
  }
  return [...totals.entries()]
    .map(([source, bytes]) => ({ source, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, limit);
}

async function bundleOne(name: FunctionName, root: string, outDir: string): Promise<BundleResult> {
  const entry = join(root, functionDefinitions[name].entry);
  const outFile = bundleFile(outDir, name);
  await rm(bundleDirectory(outDir, name), { recursive: true, force: true });
  await mkdir(bundleDirectory(outDir, name), { recursive: true });
  const result = await build({
    ...functionBuildOptions(entry, bundleDirectory(outDir, name)),
    absWorkingDir: root,
  });
  const metafile = result.metafile ?? { inputs: {}, outputs: {} };
  await writeFile(join(bundleDirectory(outDir, name), metafileName), JSON.stringify(metafile));
  const initial = initialOutputs(metafile, outFile, root);
  const javascript = Object.entries(metafile.outputs).filter(([path]) => path.endsWith('.mjs'));
  return {
    name,
    outFile,
    bytes: initial.reduce((sum, path) => sum + (metafile.outputs[path]?.bytes ?? 0), 0),
    assetBytes: javascript.reduce((sum, [, output]) => sum + output.bytes, 0),
    initialInputs: [
      ...new Set(initial.flatMap((path) => Object.keys(metafile.outputs[path]?.inputs ?? {}).map(inputName))),
    ],
    largestInputs: largestInputs(metafile, initial, 5),
    warnings: result.warnings.map((warning) => warning.text),
  };
}

/**
 * Bundles each Lambda entry of `functionDefinitions` into one self-contained, minified ESM file for
 * `nodejs24.x`. Fails before building anything when an entry is missing.
 */
export async function bundleFunctions(options: BundleOptions = {}): Promise<BundleResult[]> {
  const root = options.root ?? repositoryRoot;
  const outDir = options.outDir ?? defaultBundlesDir;
  const names = options.functions ?? (Object.keys(functionDefinitions) as FunctionName[]);
  for (const name of names) {
    const entry = functionDefinitions[name].entry;
    if (!existsSync(join(root, entry))) throw new MissingEntryError(name, entry);
  }
  const results: BundleResult[] = [];
  // One at a time: esbuild is already parallel inside a build, and the machine is shared.
  for (const name of names) results.push(await bundleOne(name, root, outDir));
  return results;
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

/** A human summary of bundle results (sizes and largest contributors). */
export function formatBundleSummary(results: readonly BundleResult[]): string {
  const lines: string[] = [];
  for (const result of results) {
    lines.push(
      `${result.name}: ${relative(repositoryRoot, result.outFile)} ${kib(result.bytes)} at init, ` +
        `${kib(result.assetBytes)} with its lazy chunks`,
    );
    for (const input of result.largestInputs)
      lines.push(`    ${kib(input.bytes).padStart(10)}  ${input.source}`);
    for (const warning of result.warnings) lines.push(`    warning: ${warning}`);
  }
  return lines.join('\n');
}

if (import.meta.main) {
  try {
    console.log(formatBundleSummary(await bundleFunctions()));
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}
