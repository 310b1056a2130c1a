import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import type { RegExpEngine } from 'ajv/dist/types/index.js';
import addFormatsModule from 'ajv-formats';
import { RE2JS } from 're2js';
import { BoundedCache } from '../../shared/cache/bounded-cache.ts';
import { canonicalJson } from '../../shared/encoding/canonical-json.ts';

// Parsing the arguments text needs none of Ajv: it lives apart, so the step worker loads Ajv and RE2
// only on its first argument check.
export { parseToolArguments } from './tool-arguments-text.ts';
export type { ParsedArguments } from './tool-arguments-text.ts';

/**
 * A tool's arguments checked against its `parameters` JSON Schema before the call (HLD §10.1):
 * invalid arguments go back to the model as an `invalid_arguments` result, never to the tool. The
 * schemas are tenants' input, so compiled validators are cached within bounds, and `pattern`s run on
 * RE2 (linear time), so a crafted schema or argument cannot stall the step worker.
 */

// ajv-formats is CommonJS; under ESM its default export is the function itself or sits on `.default`.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv2020,
) => Ajv2020;

/** `pattern` keywords compiled by RE2 instead of the backtracking RegExp engine. */
const re2Engine: RegExpEngine = Object.assign(
  (pattern: string, flags: string) => {
    const compiled = RE2JS.compile(pattern);
    // Ajv keys compiled patterns by their text, so each must have its own.
    return { test: (text: string) => compiled.matcher(text).find(), toString: () => `/${pattern}/${flags}` };
  },
  { code: 're2' },
);

function newAjv(): Ajv2020 {
  // Not strict: tenants' schemas may carry annotations Ajv does not know; unknown ones are ignored.
  const ajv = new Ajv2020({
    strict: false,
    allErrors: false,
    validateFormats: true,
    code: { regExp: re2Engine },
  });
  return addFormats(ajv);
}

function describeError(error: ErrorObject): string {
  const path = error.instancePath === '' ? '(arguments)' : error.instancePath;
  const params = error.params as { additionalProperty?: unknown; missingProperty?: unknown };
  const detail =
    error.keyword === 'additionalProperties'
      ? ` "${String(params.additionalProperty)}"`
      : error.keyword === 'required'
        ? ` "${String(params.missingProperty)}"`
        : '';
  return `${path}: ${error.message ?? 'is invalid'}${detail}`;
}

/** The outcome of a check: valid, or the message handed to the model. */
export type ArgumentCheck = { ok: true } | { ok: false; message: string };

/** Compiles and caches validators of tool parameter schemas. */
export class ToolArgumentValidator {
  readonly #ajv = newAjv();
  readonly #compiled: BoundedCache<string, ValidateFunction>;

  constructor(options: { maxSchemas?: number; now?: () => number } = {}) {
    this.#compiled = new BoundedCache({
      maxEntries: options.maxSchemas ?? 256,
      maxAgeMs: 3600_000,
      ...(options.now === undefined ? {} : { now: options.now }),
    });
  }

  /** Why `schema` cannot be used as a tool's parameters, or undefined when it compiles. */
  schemaProblem(schema: Record<string, unknown>): string | undefined {
    try {
      this.#validator(schema);
      return undefined;
    } catch (error) {
      return error instanceof Error ? error.message : 'The schema does not compile';
    }
  }

  /** Checks `value` against `schema`; a schema that does not compile refuses every call. */
  check(schema: Record<string, unknown>, value: unknown): ArgumentCheck {
    let validate: ValidateFunction;
    try {
      validate = this.#validator(schema);
    } catch {
      return {
        ok: false,
        message: 'The tool’s parameters schema does not compile, so no call can be checked',
      };
    }
    if (validate(value)) return { ok: true };
    const errors = (validate.errors ?? []).slice(0, 5).map(describeError);
    return { ok: false, message: `Invalid arguments: ${errors.join('; ') || 'do not match the schema'}` };
  }

  #validator(schema: Record<string, unknown>): ValidateFunction {
    const key = canonicalJson(schema);
    const cached = this.#compiled.get(key);
    if (cached !== undefined) return cached;
    // Compiled without adding it to Ajv's own registry, which would grow without bound.
    const validate = this.#ajv.compile({ ...schema, $id: undefined });
    this.#ajv.removeSchema();
    this.#compiled.set(key, validate);
    return validate;
  }
}
