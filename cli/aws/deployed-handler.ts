import { existsSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';

/** A handler setting resolved inside a code directory, the way Lambda's Node.js runtime does. */
export type HandlerLocation = { modulePath: string; exportPath: string[] };

/** The file extensions the Node.js runtime tries, in its order. */
const runtimeExtensions = ['', '.js', '.mjs', '.cjs'];

/**
 * Resolves `Handler` (e.g. `index.handler`, `dir/file.nested.name`) in `codeDirectory`: the module
 * is the part up to the first dot of the last path segment, tried with the runtime's extensions;
 * the rest names the export. `..` is refused, as the runtime refuses it.
 */
export function resolveHandler(codeDirectory: string, handler: string): HandlerLocation {
  if (handler.includes('..')) throw new Error(`Handler ${handler} climbs out of the code directory`);
  const slash = handler.lastIndexOf('/');
  const dot = handler.indexOf('.', slash + 1);
  if (dot === -1 || dot === handler.length - 1)
    throw new Error(`Handler ${handler} names no export (module.export)`);
  const root = resolve(codeDirectory);
  const base = resolve(root, handler.slice(0, dot));
  if (!base.startsWith(root + sep)) throw new Error(`Handler ${handler} is outside ${root}`);
  const modulePath = runtimeExtensions.map((extension) => base + extension).find((path) => existsSync(path));
  if (modulePath === undefined)
    throw new Error(
      `Handler ${handler}: no ${handler.slice(0, dot)}{${runtimeExtensions.join(',')}} in ${root}`,
    );
  return { modulePath, exportPath: handler.slice(dot + 1).split('.') };
}

/** Imports the handler's module and returns the function it exports; fails unless it is a function. */
export async function importHandler(location: HandlerLocation): Promise<unknown> {
  let value: unknown = await import(pathToFileURL(location.modulePath).href);
  for (const key of location.exportPath) {
    value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  }
  if (typeof value !== 'function')
    throw new Error(`${location.modulePath} exports no function ${location.exportPath.join('.')}`);
  return value;
}
