import type { z } from 'zod';
import { findJsonShapeProblem, maxJsonDepth } from '../encoding/json-limits.ts';
import { InvalidRequestError, UnsupportedMediaTypeError } from '../errors/agentos-error.ts';
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
 * Whether a Content-Type names JSON: `application/json` or any `+json` type, parameters (charset)
 * allowed. A request with no Content-Type at all is read as JSON, as the operation documents it.
 */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined || contentType.trim() === '') return true;
  const essence = contentType.split(';')[0]!.trim().toLowerCase();
  return essence === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(essence);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Reads a JSON request body up to its schema, which the caller applies with {@link validate}. In
 * order: present, at most `maxBytes`, a JSON media type (415 otherwise), valid UTF-8, valid JSON,
 * nested at most {@link maxJsonDepth} levels with no lone surrogates. The value stays `unknown`
 * until a schema validates it, and every refusal is a 4xx naming what is wrong.
 */
export function decodeJsonBody(
  raw: Uint8Array | undefined,
  options: { maxBytes: number; contentType: string | undefined },
): unknown {
  if (raw === undefined || raw.byteLength === 0) {
    throw new InvalidRequestError('Request body is required', [{ field: 'body', message: 'required' }]);
  }
  if (raw.byteLength > options.maxBytes) {
    throw new InvalidRequestError(
      `Request body is ${raw.byteLength} bytes; the limit is ${options.maxBytes}`,
      [{ field: 'body', message: `larger than ${options.maxBytes} bytes` }],
    );
  }
  if (!isJsonContentType(options.contentType)) {
    throw new UnsupportedMediaTypeError('Request body must be JSON (Content-Type: application/json)', {
      details: { fields: [{ field: 'Content-Type', message: 'must be application/json' }] },
    });
  }
  let text: string;
  try {
    text = strictUtf8.decode(raw);
  } catch {
    throw new InvalidRequestError('Request body is not valid UTF-8', [
      { field: 'body', message: 'invalid UTF-8' },
    ]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidRequestError('Request body is not valid JSON', [
      { field: 'body', message: 'malformed JSON' },
    ]);
  }
  const problem = findJsonShapeProblem(value);
  if (problem !== undefined) {
    const field = problem.path === '' ? 'body' : problem.path;
    throw problem.kind === 'too_deep'
      ? new InvalidRequestError(`Request body nests deeper than ${maxJsonDepth} levels`, [
          { field, message: `nested deeper than ${maxJsonDepth} levels` },
        ])
      : new InvalidRequestError('Request body holds text that is not valid Unicode (a lone surrogate)', [
          { field, message: 'lone UTF-16 surrogate' },
        ]);
  }
  return value;
}
