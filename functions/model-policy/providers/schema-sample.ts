/**
 * A deterministic JSON value matching a JSON Schema, for the local provider's structured output: the
 * first of `const`, `enum`, `default`, `anyOf`/`oneOf`, then the smallest value of the `type`, with
 * every declared property of an object. Covers the subset OpenAI's strict mode accepts.
 */

/** Levels of schema (and `$ref` hops) followed before falling back to `null`. */
const maxDepth = 32;

type Schema = Record<string, unknown>;

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The schema a local `$ref` (`#/$defs/x`, `#/definitions/x`, `#`) points to; undefined otherwise. */
function resolveRef(root: Schema, ref: string): Schema | undefined {
  if (ref === '#') return root;
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    const key = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
    if (!isSchema(node)) return undefined;
    node = node[key];
  }
  return isSchema(node) ? node : undefined;
}

function firstType(schema: Schema): string | undefined {
  const { type } = schema;
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) return type.find((entry): entry is string => typeof entry === 'string');
  if (isSchema(schema['properties'])) return 'object';
  if (schema['items'] !== undefined) return 'array';
  return undefined;
}

function sample(schema: unknown, root: Schema, depth: number): unknown {
  if (!isSchema(schema) || depth > maxDepth) return null;
  if ('const' in schema) return schema['const'];
  if (Array.isArray(schema['enum']) && schema['enum'].length > 0) return schema['enum'][0];
  if ('default' in schema) return schema['default'];
  if (typeof schema['$ref'] === 'string') return sample(resolveRef(root, schema['$ref']), root, depth + 1);
  for (const key of ['anyOf', 'oneOf', 'allOf']) {
    const options = schema[key];
    if (Array.isArray(options) && options.length > 0) return sample(options[0], root, depth + 1);
  }
  switch (firstType(schema)) {
    case 'object': {
      const properties = isSchema(schema['properties']) ? schema['properties'] : {};
      return Object.fromEntries(
        Object.entries(properties).map(([name, property]) => [name, sample(property, root, depth + 1)]),
      );
    }
    case 'array': {
      const minItems = typeof schema['minItems'] === 'number' ? Math.min(schema['minItems'], 16) : 0;
      return Array.from({ length: minItems }, () => sample(schema['items'], root, depth + 1));
    }
    case 'string': {
      const minLength = typeof schema['minLength'] === 'number' ? Math.min(schema['minLength'], 1024) : 0;
      return 'x'.repeat(minLength);
    }
    case 'integer':
    case 'number':
      // Zero, moved into [minimum, maximum] when the range leaves it out.
      if (typeof schema['minimum'] === 'number' && schema['minimum'] > 0) return Math.ceil(schema['minimum']);
      if (typeof schema['maximum'] === 'number' && schema['maximum'] < 0)
        return Math.floor(schema['maximum']);
      return 0;
    case 'boolean':
      return false;
    default:
      return null;
  }
}

/** A value matching `schema` (undefined schema: an empty object). */
export function sampleOfSchema(schema: Record<string, unknown> | undefined): unknown {
  return schema === undefined ? {} : sample(schema, schema, 0);
}
