import { Ajv } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';

/**
 * Ajv, for structured output (response-format.ts), in a module of its own: response-format.ts
 * imports it on the first `json_schema` format it checks, so the function does not load Ajv at init.
 */

/**
 * A validator of the schema's declared draft: clients that derive schemas from zod 4 (LangChain,
 * among others) declare JSON Schema 2020-12; draft-07 is the default when none is declared.
 */
function validatorFor(schema: Record<string, unknown>): Ajv {
  const options = { strict: false, validateFormats: false, allErrors: false };
  const draft = typeof schema.$schema === 'string' ? schema.$schema : '';
  if (draft.includes('2020-12')) return new Ajv2020(options);
  if (draft.includes('2019-09')) return new Ajv2019(options);
  return new Ajv(options);
}

/** Compiles `schema` with a validator of its declared draft; throws when it is not a valid JSON Schema. */
export function compileJsonSchema(schema: Record<string, unknown>): ValidateFunction {
  // A fresh validator per call: Ajv caches every schema it compiles, and callers' schemas are unbounded.
  return validatorFor(schema).compile(schema);
}
