import { InvalidRequestError } from '../../shared/errors/agentos-error.ts';
import { ProviderError } from '../ports/model-provider-port.ts';
import type { ResponseFormat } from '../ports/model-provider-port.ts';
import type * as jsonSchemaCompiler from './json-schema-compiler.ts';

/**
 * Structured output (`response_format`): the bounds a caller's JSON schema must keep, and the check
 * every final answer passes before it is returned, whichever backend produced it.
 */

/** Deepest nesting of a `json_schema` schema; deeper schemas are refused (every walk is bounded). */
export const maxSchemaDepth = 32;
/** Largest `json_schema` schema, in bytes of its JSON. */
export const maxSchemaBytes = 65_536;

const defaultSchemaField = 'response_format.json_schema.schema';

/** The nesting depth of a JSON value, counted up to `limit + 1` and no further. */
function depthOf(value: unknown, limit: number): number {
  if (typeof value !== 'object' || value === null) return 0;
  if (limit < 0) return 1;
  let deepest = 0;
  for (const child of Object.values(value)) {
    deepest = Math.max(deepest, depthOf(child, limit - 1));
    if (deepest > limit) break;
  }
  return deepest + 1;
}

/**
 * The JSON Schema compiler (Ajv), imported on the first `json_schema` format to check: most calls
 * ask for none, and Ajv is among the largest parts of the function. A failed import is retried on
 * the next call instead of being remembered.
 */
let compiler: Promise<typeof jsonSchemaCompiler> | undefined;
function loadCompiler(): Promise<typeof jsonSchemaCompiler> {
  return (compiler ??= import('./json-schema-compiler.ts').catch((error: unknown) => {
    compiler = undefined;
    throw error;
  }));
}

/**
 * Checks a request's `response_format` before any backend is called.
 *
 * @throws InvalidRequestError naming `schemaField` (the chat route's `response_format.json_schema.schema`
 * unless told otherwise) when the schema is nested deeper than {@link maxSchemaDepth}, larger than
 * {@link maxSchemaBytes} or not a valid JSON Schema.
 */
export async function checkResponseFormat(
  format: ResponseFormat | undefined,
  schemaField: string = defaultSchemaField,
): Promise<void> {
  if (format?.type !== 'json_schema' || format.json_schema.schema === undefined) return;
  const { schema } = format.json_schema;
  if (depthOf(schema, maxSchemaDepth) > maxSchemaDepth) {
    throw new InvalidRequestError(`${schemaField} is nested too deeply`, [
      { field: schemaField, message: `nested deeper than ${maxSchemaDepth} levels` },
    ]);
  }
  if (Buffer.byteLength(JSON.stringify(schema)) > maxSchemaBytes) {
    throw new InvalidRequestError(`${schemaField} is too large`, [
      { field: schemaField, message: `larger than ${maxSchemaBytes} bytes` },
    ]);
  }
  const { compileJsonSchema } = await loadCompiler();
  try {
    compileJsonSchema(schema);
  } catch (error) {
    throw new InvalidRequestError(
      `${schemaField} is not a valid JSON Schema`,
      [{ field: schemaField, message: error instanceof Error ? error.message.slice(0, 512) : 'invalid' }],
      { cause: error },
    );
  }
}

/**
 * Checks a backend's final answer against the request's `response_format`: JSON for `json_object`
 * (an object), JSON matching the schema for `json_schema`. An answer holding tool calls is not
 * structured output and is not checked.
 *
 * @throws ProviderError `output_invalid` (the router then tries the next backend) when it does not match.
 */
export async function checkStructuredOutput(
  format: ResponseFormat | undefined,
  content: string | null,
  hasToolCalls: boolean,
): Promise<void> {
  if (format === undefined || format.type === 'text' || hasToolCalls) return;
  let value: unknown;
  try {
    value = JSON.parse(content ?? '');
  } catch (error) {
    throw new ProviderError('output_invalid', 'the backend answered text that is not JSON', { cause: error });
  }
  if (format.type === 'json_object') {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ProviderError('output_invalid', 'the backend answered JSON that is not an object');
    }
    return;
  }
  if (format.json_schema.schema === undefined) return;
  const validate = (await loadCompiler()).compileJsonSchema(format.json_schema.schema);
  if (!validate(value)) {
    const issue = validate.errors?.[0];
    throw new ProviderError(
      'output_invalid',
      `the backend answered JSON that does not match the schema${issue === undefined ? '' : ` (${issue.instancePath || '/'} ${issue.message ?? ''})`}`,
    );
  }
}
