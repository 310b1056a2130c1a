import type { z } from 'zod';
import { InvalidRequestError } from '../errors/agentos-error.ts';
import type { FieldIssue } from '../errors/agentos-error.ts';

/** Turns zod issues into field-named details, e.g. `input.messages.0.role`. */
export function fieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      const prefix = path === '' ? '' : `${path}.`;
      return { field: issue.keys.map((key) => `${prefix}${key}`).join(', '), message: 'unknown field' };
    }
    return { field: path === '' ? 'body' : path, message: issue.message };
  });
}

/** Validates an already-parsed value, throwing a 400 that names the first offending field. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, what = 'request'): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const fields = fieldIssues(result.error);
  const first = fields[0];
  throw new InvalidRequestError(
    first === undefined ? `Invalid ${what}` : `Invalid ${what}: ${first.field}: ${first.message}`,
    fields,
  );
}

/**
 * Parses a JSON body of at most `maxBytes` and validates it against `schema`. Size is checked before
 * parsing, and the body is typed only after validation.
 */
export function parseJsonBody<S extends z.ZodType>(
  raw: string | undefined,
  schema: S,
  options: { maxBytes: number },
): z.infer<S> {
  if (raw === undefined || raw.length === 0) {
    throw new InvalidRequestError('Request body is required', [{ field: 'body', message: 'required' }]);
  }
  const size = Buffer.byteLength(raw, 'utf8');
  if (size > options.maxBytes) {
    throw new InvalidRequestError(`Request body is ${size} bytes; the limit is ${options.maxBytes}`, [
      { field: 'body', message: `larger than ${options.maxBytes} bytes` },
    ]);
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new InvalidRequestError('Request body is not valid JSON', [
      { field: 'body', message: 'malformed JSON' },
    ]);
  }
  return validate(schema, value, 'request body');
}
