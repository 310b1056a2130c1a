import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import type { JsonObject, JsonValue } from './json-value.ts';
import { isJsonObject } from './json-value.ts';

/**
 * Whether a schema describes what clients send (`input`: defaults are optional, transforms show their
 * input) or what servers return (`output`).
 */
export type SchemaIo = 'input' | 'output';

/** The converted schemas: one JSON Schema per requested root, and the shared components they reference. */
export type ConvertedSchemas = {
  schemaOf(schema: z.ZodType, io: SchemaIo): JsonObject;
  components: Record<string, JsonObject>;
};

const componentPrefix = '#/components/schemas/';

function rewriteRefs(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (!isJsonObject(value)) return value;
  const out: JsonObject = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] =
      key === '$ref' && typeof inner === 'string' && inner.startsWith('#/$defs/')
        ? componentPrefix + inner.slice('#/$defs/'.length)
        : rewriteRefs(inner);
  }
  return out;
}

function convertPass(
  roots: z.ZodType[],
  io: SchemaIo,
): { rootSchemas: JsonObject[]; components: Record<string, JsonObject> } {
  if (roots.length === 0) return { rootSchemas: [], components: {} };
  // One conversion over a synthetic object holding every root, so each `.meta({ id })` schema is
  // emitted once under $defs and referenced everywhere else, whichever roots use it.
  const holder = z.strictObject(Object.fromEntries(roots.map((schema, index) => [`r${index}`, schema])));
  const converted = z.toJSONSchema(holder, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'throw',
    cycles: 'ref',
    reused: 'inline',
  }) as unknown as JsonObject;
  const rewritten = rewriteRefs(converted) as JsonObject;
  const properties = rewritten['properties'] as JsonObject;
  const defs = (rewritten['$defs'] ?? {}) as Record<string, JsonObject>;
  for (const name of Object.keys(defs)) {
    if (name.startsWith('__schema')) {
      throw new Error(
        `A recursive or shared schema has no public name (${name}); give it .meta({ id: 'Name' }) so it can be a component`,
      );
    }
  }
  return { rootSchemas: roots.map((_, index) => properties[`r${index}`] as JsonObject), components: defs };
}

function renameRefs(value: JsonValue, renamed: Map<string, string>): JsonValue {
  if (Array.isArray(value)) return value.map((item) => renameRefs(item, renamed));
  if (!isJsonObject(value)) return value;
  const out: JsonObject = {};
  for (const [key, inner] of Object.entries(value)) {
    const target = typeof inner === 'string' ? renamed.get(inner.slice(componentPrefix.length)) : undefined;
    out[key] =
      key === '$ref' && typeof inner === 'string' && inner.startsWith(componentPrefix) && target !== undefined
        ? componentPrefix + target
        : renameRefs(inner, renamed);
  }
  return out;
}

/**
 * Names of components whose response form differs from their request form: directly (a `.default()`
 * makes a field optional in requests but always present in responses) or through a component they
 * reference that differs.
 */
function divergingComponents(
  requestForms: Record<string, JsonObject>,
  responseForms: Record<string, JsonObject>,
): Map<string, string> {
  const renamed = new Map<string, string>();
  let changed = true;
  while (changed) {
    changed = false;
    for (const [name, responseForm] of Object.entries(responseForms)) {
      const requestForm = requestForms[name];
      if (requestForm === undefined || renamed.has(name)) continue;
      if (!isDeepStrictEqual(requestForm, renameRefs(responseForm, renamed))) {
        renamed.set(name, `${name}Output`);
        changed = true;
      }
    }
  }
  return renamed;
}

/**
 * Converts the zod schemas of an API into JSON Schema 2020-12: request-side schemas with `io: 'input'`,
 * response-side ones with `io: 'output'`. Schemas carrying `.meta({ id })` become components
 * referenced as `#/components/schemas/<id>`. A component whose response form differs from its request
 * form (a `.default()` inside it, or in a component it uses) keeps its name for requests and is named
 * `<id>Output` for responses, the convention of zod's OpenAPI tooling.
 */
export function convertZodSchemas(requestSide: z.ZodType[], responseSide: z.ZodType[]): ConvertedSchemas {
  const unique = (schemas: z.ZodType[]) => [...new Set(schemas)];
  const inputs = unique(requestSide);
  const outputs = unique(responseSide);
  const input = convertPass(inputs, 'input');
  const output = convertPass(outputs, 'output');

  const renamed = divergingComponents(input.components, output.components);
  const components: Record<string, JsonObject> = { ...input.components };
  for (const [name, schema] of Object.entries(output.components)) {
    const key = renamed.get(name) ?? name;
    if (renamed.has(name) && key in components) {
      throw new Error(`Component ${name} needs a separate response form, but ${key} is taken`);
    }
    components[key] = renameRefs(schema, renamed) as JsonObject;
  }
  const outputRoots = output.rootSchemas.map((schema) => renameRefs(schema, renamed) as JsonObject);

  const byIo = {
    input: new Map(inputs.map((schema, index) => [schema, input.rootSchemas[index]!])),
    output: new Map(outputs.map((schema, index) => [schema, outputRoots[index]!])),
  };
  return {
    components,
    schemaOf(schema, io) {
      const found = byIo[io].get(schema);
      if (found === undefined) throw new Error(`Schema was not converted for ${io}`);
      return found;
    },
  };
}
