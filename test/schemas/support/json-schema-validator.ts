import { isDeepStrictEqual } from 'node:util';
import type { JsonObject, JsonValue } from '../../../cli/schemas/json-value.ts';
import { isJsonObject } from '../../../cli/schemas/json-value.ts';

/**
 * A JSON Schema 2020-12 validator for the keywords zod's generator emits, used to check examples
 * against the published OpenAPI components. It refuses schemas with keywords it does not implement
 * (instead of ignoring them), so it can never pass an example by skipping a constraint. To be
 * replaced by a full 2020-12 validator (ajv's `ajv/dist/2020`) once one is a dependency.
 */

export type ValidationIssue = { path: string; message: string };

const annotationKeywords = new Set([
  'description',
  'title',
  'default',
  'examples',
  'deprecated',
  'readOnly',
  'writeOnly',
  '$comment',
  '$schema',
  'contentEncoding',
  'contentMediaType',
]);

const assertionKeywords = new Set([
  '$ref',
  'type',
  'const',
  'enum',
  'minLength',
  'maxLength',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'items',
  'prefixItems',
  'minItems',
  'maxItems',
  'uniqueItems',
  'properties',
  'required',
  'additionalProperties',
  'propertyNames',
  'minProperties',
  'maxProperties',
  'anyOf',
  'oneOf',
  'allOf',
  'not',
]);

/** Format assertions for the formats zod emits; an unknown format is refused like a keyword. */
const formats: Record<string, (value: string) => boolean> = {
  'date-time': (value) =>
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(value) &&
    !Number.isNaN(Date.parse(value)),
  uri: (value) => URL.canParse(value) && /^[a-z][a-z0-9+.-]*:/i.test(value),
  email: (value) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value),
  uuid: (value) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value),
};

function resolvePointer(document: JsonObject, ref: string): JsonValue {
  if (!ref.startsWith('#/')) throw new Error(`Only local $refs are supported, got ${ref}`);
  let current: JsonValue = document;
  for (const raw of ref.slice(2).split('/')) {
    const segment = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isJsonObject(current) || !(segment in current)) throw new Error(`Unresolved $ref ${ref}`);
    current = current[segment]!;
  }
  return current;
}

function typeMatches(type: string, value: unknown): boolean {
  switch (type) {
    case 'null':
      return value === null;
    case 'boolean':
      return typeof value === 'boolean';
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return Number.isInteger(value);
    case 'array':
      return Array.isArray(value);
    case 'object':
      return isJsonObject(value);
    default:
      throw new Error(`Unknown JSON Schema type ${type}`);
  }
}

function checkKeywords(schema: JsonObject, path: string): void {
  for (const key of Object.keys(schema)) {
    if (!assertionKeywords.has(key) && !annotationKeywords.has(key)) {
      throw new Error(`Unsupported JSON Schema keyword "${key}" at ${path || '/'}`);
    }
  }
}

type Validation = { document: JsonObject; issues: ValidationIssue[] };

function passes(run: Validation, schema: JsonValue, value: unknown, path: string): ValidationIssue[] {
  const scratch: Validation = { document: run.document, issues: [] };
  validateNode(scratch, schema, value, path);
  return scratch.issues;
}

function validateString(run: Validation, schema: JsonObject, value: string, path: string): void {
  const length = [...value].length;
  const fail = (message: string) => run.issues.push({ path, message });
  if (typeof schema['minLength'] === 'number' && length < schema['minLength'])
    fail(`shorter than ${schema['minLength']}`);
  if (typeof schema['maxLength'] === 'number' && length > schema['maxLength'])
    fail(`longer than ${schema['maxLength']}`);
  if (typeof schema['pattern'] === 'string' && !new RegExp(schema['pattern'], 'u').test(value)) {
    fail(`does not match ${schema['pattern']}`);
  }
  if (typeof schema['format'] === 'string') {
    const check = formats[schema['format']];
    if (check === undefined) throw new Error(`Unsupported format "${schema['format']}" at ${path || '/'}`);
    if (!check(value)) fail(`is not a valid ${schema['format']}`);
  }
}

function validateNumber(run: Validation, schema: JsonObject, value: number, path: string): void {
  const fail = (message: string) => run.issues.push({ path, message });
  const { minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf } = schema;
  if (typeof minimum === 'number' && value < minimum) fail(`less than ${minimum}`);
  if (typeof maximum === 'number' && value > maximum) fail(`greater than ${maximum}`);
  if (typeof exclusiveMinimum === 'number' && value <= exclusiveMinimum)
    fail(`not greater than ${exclusiveMinimum}`);
  if (typeof exclusiveMaximum === 'number' && value >= exclusiveMaximum)
    fail(`not less than ${exclusiveMaximum}`);
  if (typeof multipleOf === 'number' && !Number.isInteger(value / multipleOf))
    fail(`not a multiple of ${multipleOf}`);
}

function validateArray(run: Validation, schema: JsonObject, value: unknown[], path: string): void {
  const fail = (message: string) => run.issues.push({ path, message });
  if (typeof schema['minItems'] === 'number' && value.length < schema['minItems'])
    fail(`fewer than ${schema['minItems']} items`);
  if (typeof schema['maxItems'] === 'number' && value.length > schema['maxItems'])
    fail(`more than ${schema['maxItems']} items`);
  if (schema['uniqueItems'] === true) {
    const duplicate = value.some(
      (item, index) => value.findIndex((other) => isDeepStrictEqual(other, item)) !== index,
    );
    if (duplicate) fail('items are not unique');
  }
  const tuple = Array.isArray(schema['prefixItems']) ? schema['prefixItems'] : [];
  value.forEach((item, index) => {
    const itemSchema = index < tuple.length ? tuple[index] : schema['items'];
    if (itemSchema !== undefined) validateNode(run, itemSchema, item, `${path}/${index}`);
  });
}

function validateObject(run: Validation, schema: JsonObject, value: JsonObject, path: string): void {
  const fail = (message: string) => run.issues.push({ path, message });
  const properties = isJsonObject(schema['properties']) ? schema['properties'] : {};
  const keys = Object.keys(value);
  for (const name of (schema['required'] ?? []) as string[]) {
    if (!(name in value)) fail(`missing required property "${name}"`);
  }
  if (typeof schema['minProperties'] === 'number' && keys.length < schema['minProperties'])
    fail('too few properties');
  if (typeof schema['maxProperties'] === 'number' && keys.length > schema['maxProperties'])
    fail('too many properties');
  for (const key of keys) {
    const at = `${path}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    if (schema['propertyNames'] !== undefined) {
      for (const issue of passes(run, schema['propertyNames'], key, at))
        fail(`property name "${key}": ${issue.message}`);
    }
    if (key in properties) validateNode(run, properties[key]!, value[key], at);
    else if (schema['additionalProperties'] === false) fail(`unexpected property "${key}"`);
    else if (schema['additionalProperties'] !== undefined)
      validateNode(run, schema['additionalProperties'], value[key], at);
  }
}

function validateNode(run: Validation, schema: JsonValue, value: unknown, path: string): void {
  if (schema === true) return;
  if (schema === false) {
    run.issues.push({ path, message: 'no value is allowed here' });
    return;
  }
  if (!isJsonObject(schema)) throw new Error(`Not a schema at ${path || '/'}`);
  checkKeywords(schema, path);

  if (typeof schema['$ref'] === 'string')
    validateNode(run, resolvePointer(run.document, schema['$ref']), value, path);
  if (schema['type'] !== undefined) {
    const types = Array.isArray(schema['type']) ? (schema['type'] as string[]) : [schema['type'] as string];
    if (!types.some((type) => typeMatches(type, value))) {
      run.issues.push({ path, message: `expected ${types.join(' or ')}` });
      return;
    }
  }
  if ('const' in schema && !isDeepStrictEqual(schema['const'], value)) {
    run.issues.push({ path, message: `expected ${JSON.stringify(schema['const'])}` });
  }
  if (Array.isArray(schema['enum']) && !schema['enum'].some((allowed) => isDeepStrictEqual(allowed, value))) {
    run.issues.push({ path, message: `not one of ${JSON.stringify(schema['enum'])}` });
  }
  if (typeof value === 'string') validateString(run, schema, value, path);
  if (typeof value === 'number') validateNumber(run, schema, value, path);
  if (Array.isArray(value)) validateArray(run, schema, value, path);
  if (isJsonObject(value)) validateObject(run, schema, value, path);

  for (const member of (schema['allOf'] ?? []) as JsonValue[]) validateNode(run, member, value, path);
  if (schema['not'] !== undefined && passes(run, schema['not'], value, path).length === 0) {
    run.issues.push({ path, message: 'matches a schema it must not match' });
  }
  for (const keyword of ['anyOf', 'oneOf'] as const) {
    const options = schema[keyword];
    if (!Array.isArray(options)) continue;
    const results = options.map((option) => passes(run, option, value, path));
    const matches = results.filter((issues) => issues.length === 0).length;
    if (matches === 0) {
      // The closest alternative's issues say the most about what is wrong.
      const closest = [...results].sort((a, b) => a.length - b.length)[0] ?? [];
      run.issues.push({ path, message: `matches none of the ${options.length} alternatives` }, ...closest);
    } else if (keyword === 'oneOf' && matches > 1) {
      run.issues.push({ path, message: `matches ${matches} alternatives of oneOf; exactly one must match` });
    }
  }
}

/**
 * Validates `value` against `schema`, resolving `$ref`s inside `document`. Returns the issues found
 * (empty when valid); throws when the schema uses a keyword or format this validator does not implement.
 */
export function validateJsonSchema(
  document: JsonObject,
  schema: JsonValue,
  value: unknown,
): ValidationIssue[] {
  const run: Validation = { document, issues: [] };
  validateNode(run, schema, value, '');
  return run.issues;
}

/** Every keyword or format under `schema` this validator does not implement, as `path: keyword`. */
export function unsupportedKeywords(schema: JsonValue, path = ''): string[] {
  if (typeof schema === 'boolean') return [];
  if (!isJsonObject(schema)) return [`${path || '/'}: not a schema`];
  const found: string[] = [];
  for (const [key, inner] of Object.entries(schema)) {
    const at = `${path}/${key}`;
    if (!assertionKeywords.has(key) && !annotationKeywords.has(key)) found.push(`${path || '/'}: ${key}`);
    if (key === 'format' && typeof inner === 'string' && formats[inner] === undefined)
      found.push(`${at}: ${inner}`);
    if (['items', 'additionalProperties', 'propertyNames', 'not'].includes(key))
      found.push(...unsupportedKeywords(inner, at));
    if (['prefixItems', 'anyOf', 'oneOf', 'allOf'].includes(key) && Array.isArray(inner)) {
      inner.forEach((member, index) => found.push(...unsupportedKeywords(member, `${at}/${index}`)));
    }
    if (key === 'properties' && isJsonObject(inner)) {
      for (const [name, member] of Object.entries(inner))
        found.push(...unsupportedKeywords(member, `${at}/${name}`));
    }
  }
  return found;
}
