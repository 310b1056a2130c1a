import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { JsonObject, JsonValue } from '../../../cli/schemas/json-value.ts';

/**
 * Validates values against the published OpenAPI components with ajv, a maintained JSON Schema
 * 2020-12 validator (the dialect OpenAPI 3.1 uses), with format assertions. Strict mode makes a
 * keyword or format it does not know an error instead of something silently skipped.
 */

export type ValidationIssue = { path: string; message: string };

// ajv-formats is CommonJS; under ESM its default export is the function itself or sits on `.default`.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv2020,
) => Ajv2020;

const componentPrefix = 'agentos:components/schemas/';

function newAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, allErrors: true, validateFormats: true });
  // OpenAPI's own keyword inside component schemas; not a JSON Schema assertion.
  ajv.addVocabulary(['example']);
  return addFormats(ajv);
}

/** The schema with `#/components/schemas/X` refs made to point at the component schemas added on their own. */
function rebased(schema: JsonValue): object | boolean {
  return JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', `"${componentPrefix}`)) as
    object | boolean;
}

function toIssue(error: ErrorObject): ValidationIssue {
  const extra =
    error.keyword === 'additionalProperties'
      ? ` "${String((error.params as { additionalProperty?: unknown }).additionalProperty)}"`
      : error.keyword === 'required'
        ? ` "${String((error.params as { missingProperty?: unknown }).missingProperty)}"`
        : error.keyword === 'propertyNames'
          ? ` "${String((error.params as { propertyName?: unknown }).propertyName)}"`
          : '';
  return { path: error.instancePath, message: `${error.message ?? error.keyword}${extra}` };
}

/**
 * Validates `value` against `schema`, resolving `#/components/...` `$ref`s inside `document`.
 * Returns the issues found (empty when valid); throws when the schema uses a keyword or format ajv
 * does not know.
 */
export function validateJsonSchema(
  document: JsonObject,
  schema: JsonValue,
  value: unknown,
): ValidationIssue[] {
  const ajv = newAjv();
  const schemas = ((document['components'] as JsonObject | undefined)?.['schemas'] ?? {}) as JsonObject;
  // Component schemas are added one by one: the rest of an OpenAPI document is not JSON Schema.
  for (const [name, component] of Object.entries(schemas)) {
    ajv.addSchema(rebased(component) as object, `${componentPrefix}${name}`);
  }
  const validate = ajv.compile(rebased(schema));
  return validate(value) ? [] : (validate.errors ?? []).map(toIssue);
}

/** Problems ajv's strict mode finds compiling `schema` (unknown keywords or formats), as messages. */
export function unsupportedKeywords(document: JsonObject, schema: JsonValue): string[] {
  try {
    validateJsonSchema(document, schema, null);
    return [];
  } catch (error) {
    return [error instanceof Error ? error.message : String(error)];
  }
}
