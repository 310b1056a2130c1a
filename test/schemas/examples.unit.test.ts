import { beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject, JsonValue } from '../../cli/schemas/json-value.ts';
import { isJsonObject } from '../../cli/schemas/json-value.ts';
import {
  committedDocument,
  exampleFiles,
  expectedExamples,
  nodeAt,
  readExample,
} from './support/example-catalog.ts';
import type { ExampleTarget } from './support/example-catalog.ts';
import { RunEventSchema } from '../../functions/orchestrator/schemas/event.ts';
import { validateJsonSchema } from './support/json-schema-validator.ts';
import { loadDenyPatternEngine } from '../../functions/model-policy/policy/deny-pattern.ts';

const targets = expectedExamples();
const files = exampleFiles();
const present = targets.filter((target) => files.includes(target.file));

/** Issues of one payload against both the zod schema and the published JSON Schema, as lines. */
function issuesOf(target: ExampleTarget, value: unknown): string[] {
  const document = committedDocument(target.document);
  const zodResult = target.zod.safeParse(value);
  const zodIssues = zodResult.success
    ? []
    : zodResult.error.issues.map((issue) => `zod ${issue.path.join('.')}: ${issue.message}`);
  const jsonIssues = validateJsonSchema(document, nodeAt(document, target.pointer), value).map(
    (issue) => `openapi ${issue.path || '/'}: ${issue.message}`,
  );
  return [...zodIssues, ...jsonIssues];
}

function payloadsOf(target: ExampleTarget): JsonValue[] {
  const value = readExample(target.file);
  if (!target.stream) return [value];
  if (!Array.isArray(value) || value.length === 0)
    throw new Error(`${target.file} must be a non-empty array`);
  return value;
}

// A tenant policy's content patterns are validated by RE2, which its route loads before validating
// (`prepareBody`); the examples are validated against the bare schemas, so it is loaded here.
beforeAll(loadDenyPatternEngine);

describe('schemas/examples', () => {
  it('has an example of every request body, success response and event type, and of every error code', () => {
    const missing = targets.map((target) => target.file).filter((file) => !files.includes(file));
    expect(missing).toEqual([]);
  });

  it('holds no example that belongs to no request, response, event type or error code', () => {
    const expected = new Set(targets.map((target) => target.file));
    expect(files.filter((file) => !expected.has(file))).toEqual([]);
  });

  it.each(present)('$file validates against the zod schema and the committed OpenAPI schema', (target) => {
    const issues = payloadsOf(target).flatMap((payload, index) =>
      issuesOf(target, payload).map((issue) => (target.stream ? `[${index}] ${issue}` : issue)),
    );
    expect(issues).toEqual([]);
  });

  it.each(present.filter((target) => target.named !== undefined))(
    '$file is the example its name says',
    (target) => {
      expect(target.named!.read(readExample(target.file) as JsonObject)).toBe(target.named!.expected);
    },
  );

  it('streams of run events are gapless, increasing and free of duplicate event ids', () => {
    // A2A's streams carry JSON-RPC responses, not run events (their own test is test/orchestrator/a2a.test.ts).
    const streams = present.filter((target) => target.stream && target.zod === RunEventSchema);
    expect(streams.length).toBeGreaterThan(0);
    for (const target of streams) {
      const events = payloadsOf(target) as JsonObject[];
      expect(events.map((event) => event['sequence'])).toEqual(events.map((_, index) => index + 1));
      expect(new Set(events.map((event) => event['event_id'])).size).toBe(events.length);
      expect(events.at(-1)?.['type']).toMatch(/^run\.(completed|failed|canceled)$/);
    }
  });
});

describe('generated request schemas are exactly as strict as zod', () => {
  const requests = present.filter((target) => target.direction === 'request');

  it.each(requests)('$file with an unknown field is rejected by both', (target) => {
    const value = readExample(target.file) as JsonObject;
    const document = committedDocument(target.document);
    const tampered = { ...value, unexpected_field: true };
    expect(target.zod.safeParse(tampered).success).toBe(false);
    expect(validateJsonSchema(document, nodeAt(document, target.pointer), tampered)).not.toEqual([]);
  });

  /** The committed schema of a request body and the fields it requires. */
  function requestSchema(target: ExampleTarget): { schema: JsonValue; required: string[] } {
    const document = committedDocument(target.document);
    const schema = nodeAt(document, target.pointer);
    const resolved =
      isJsonObject(schema) && typeof schema['$ref'] === 'string'
        ? nodeAt(document, schema['$ref'].slice(1))
        : schema;
    return { schema, required: ((resolved as JsonObject)['required'] ?? []) as string[] };
  }

  // A body whose every field is optional (a partial update) is accepted empty by both.
  const partials = requests.filter((target) => requestSchema(target).required.length === 0);

  it.each(partials)('$file emptied of every field is accepted by both', (target) => {
    const document = committedDocument(target.document);
    expect(target.zod.safeParse({}).success).toBe(true);
    expect(validateJsonSchema(document, requestSchema(target).schema, {})).toEqual([]);
  });

  it.each(requests.filter((target) => !partials.includes(target)))(
    '$file without any one of its required fields is rejected by both',
    (target) => {
      const value = readExample(target.file) as JsonObject;
      const document = committedDocument(target.document);
      const { schema, required } = requestSchema(target);
      const verdicts = required.map((field) => {
        const tampered = Object.fromEntries(Object.entries(value).filter(([key]) => key !== field));
        return {
          field,
          zodAccepts: target.zod.safeParse(tampered).success,
          openApiAccepts: validateJsonSchema(document, schema, tampered).length === 0,
        };
      });
      expect(verdicts).toEqual(
        required.map((field) => ({ field, zodAccepts: false, openApiAccepts: false })),
      );
    },
  );
});
