import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { functionBuildOptions } from '../../infra/build/bundle-functions.ts';

/**
 * Node built-ins inside a Lambda bundle, built with the functions' own esbuild options: a bundled
 * dependency may import one statically or with `await import()` (the Lambda runtime's invoke store
 * does the latter for `node:async_hooks`), and both must see the module's named exports.
 */
describe('a Node built-in in a bundle', () => {
  it('returns the named exports to a static and to a dynamic import alike', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agentos-bundle-builtins-'));
    const entry = join(dir, 'entry.ts');
    await writeFile(
      entry,
      [
        "import { AsyncLocalStorage as Static } from 'node:async_hooks';",
        'export async function probe() {',
        "  const loaded = await import('node:async_hooks');",
        '  return { static: typeof Static, dynamic: typeof loaded.AsyncLocalStorage };',
        '}',
      ].join('\n'),
    );
    const outDir = join(dir, 'out');
    await build({ ...functionBuildOptions(entry, outDir), write: true });
    const bundled = (await import(pathToFileURL(join(outDir, 'index.mjs')).href)) as {
      probe(): Promise<{ static: string; dynamic: string }>;
    };

    expect(await bundled.probe()).toEqual({ static: 'function', dynamic: 'function' });
  });
});
