import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { generateApiDocuments } from '../../cli/schemas/api-documents.ts';
import type { RouteSpec } from '../../functions/shared/http/route-spec.ts';
import { findBreakingChanges, formatBreakingChange } from '../../cli/schemas/breaking-changes.ts';
import { canonicalJson } from '../../cli/schemas/canonical-json.ts';
import type { JsonObject } from '../../cli/schemas/json-value.ts';
import { buildOpenApiDocument } from '../../cli/schemas/openapi-builder.ts';
import { baselineDir, documentFileName } from '../../cli/schemas/schema-paths.ts';
import { runSchemaScript } from './support/run-script.ts';

const colors = ['red', 'green', 'blue'] as const;
const baseRequest = {
  name: z.string().min(1).max(64),
  color: z.enum(colors),
  size: z.number().int().min(0).optional(),
};
const baseResponse = {
  object: z.literal('widget'),
  id: z.string(),
  name: z.string(),
  color: z.enum(colors),
  created_at: z.iso.datetime(),
};

function without(shape: Record<string, z.ZodType>, field: string): Record<string, z.ZodType> {
  return Object.fromEntries(Object.entries(shape).filter(([name]) => name !== field));
}

type WidgetApi = {
  request?: Record<string, z.ZodType>;
  response?: Record<string, z.ZodType>;
  query?: z.ZodObject;
  createScope?: string;
  createStatus?: number;
  withGet?: boolean;
  implemented?: false;
};

/** A small API built the way every AgentOS document is, so each case changes only zod schemas. */
function widgetDocument(api: WidgetApi = {}): JsonObject {
  const WidgetRequest = z.strictObject(api.request ?? baseRequest).meta({ id: 'WidgetRequest' });
  const Widget = z.strictObject(api.response ?? baseResponse).meta({ id: 'Widget' });
  const operations: RouteSpec[] = [
    {
      operationId: 'createWidget',
      method: 'POST',
      path: '/v1/widgets',
      scope: api.createScope ?? 'widgets:write',
      summary: 'Create a widget',
      request: { body: WidgetRequest, ...(api.query ? { query: api.query } : {}) },
      responses: {
        [api.createStatus ?? 201]: {
          description: 'Created',
          content: { 'application/json': { schema: Widget } },
        },
        400: { description: 'invalid_request' },
      },
      ...(api.implemented === false ? { implemented: false as const } : {}),
    },
  ];
  if (api.withGet !== false) {
    operations.push({
      operationId: 'getWidget',
      method: 'GET',
      path: '/v1/widgets/{widget_id}',
      scope: 'widgets:read',
      summary: 'Read a widget',
      request: { params: z.strictObject({ widget_id: z.string() }) },
      responses: { 200: { description: 'The widget', content: { 'application/json': { schema: Widget } } } },
    });
  }
  return buildOpenApiDocument({
    name: 'widgets',
    title: 'Widgets',
    version: '1.0.0',
    description: 'Test API',
    servers: [],
    operations,
  });
}

function breakingChanges(baseline: JsonObject, current: JsonObject): string[] {
  return findBreakingChanges(baseline, current).breaking.map(formatBreakingChange);
}

const baseline = widgetDocument();

describe('the additive-only guard', () => {
  it('finds nothing when the API is unchanged', () => {
    expect(breakingChanges(baseline, widgetDocument())).toEqual([]);
  });

  it.each<[string, WidgetApi, string]>([
    [
      'a removed response field',
      { response: without(baseResponse, 'created_at') },
      'Widget: removed field "created_at" (response)',
    ],
    [
      'a renamed response field',
      { response: { ...without(baseResponse, 'name'), title: z.string() } },
      'Widget: removed field "name" (response)',
    ],
    [
      'a renamed request field',
      { request: { ...without(baseRequest, 'name'), title: z.string().min(1).max(64) } },
      'WidgetRequest: removed field "name" (request)',
    ],
    [
      'a response field changed from string to number',
      { response: { ...baseResponse, id: z.number() } },
      'Widget.id: type changed from string to number (response)',
    ],
    [
      'a request field changed from string to number',
      { request: { ...baseRequest, name: z.number() } },
      'WidgetRequest.name: type changed from string to number (request)',
    ],
    [
      'a string narrowed to an enum',
      { request: { ...baseRequest, name: z.enum(['small', 'large']) } },
      'WidgetRequest.name: narrowed to the values "small", "large" (request)',
    ],
    [
      'a removed enum value',
      { request: { ...baseRequest, color: z.enum(['red', 'green']) } },
      'WidgetRequest.color: removed value(s) "blue" (request)',
    ],
    [
      'an added required request field',
      { request: { ...baseRequest, owner: z.string() } },
      'WidgetRequest: new required field "owner" (request)',
    ],
    [
      'an optional request field made required',
      { request: { ...baseRequest, size: z.number().int().min(0) } },
      'WidgetRequest: field "size" became required (request)',
    ],
    [
      'a tightened maxLength',
      { request: { ...baseRequest, name: z.string().min(1).max(32) } },
      'WidgetRequest.name: maxLength lowered from 64 to 32 (request)',
    ],
    [
      'a raised minimum',
      { request: { ...baseRequest, size: z.number().int().positive().optional() } },
      'WidgetRequest.size: lower bound tightened from >= 0 to > 0 (request)',
    ],
    [
      'a response field that may now be null',
      { response: { ...baseResponse, created_at: z.iso.datetime().nullable() } },
      'Widget.created_at: may now be null (response)',
    ],
    [
      'a response field that may now be absent',
      { response: { ...baseResponse, name: z.string().optional() } },
      'Widget: field "name" is no longer always present (response)',
    ],
    ['a removed operation', { withGet: false }, 'GET /v1/widgets/{widget_id}: was removed'],
    [
      'a changed scope',
      { createScope: 'widgets:admin' },
      'POST /v1/widgets: requires scope widgets:admin instead of widgets:write',
    ],
    ['a removed success status', { createStatus: 200 }, 'POST /v1/widgets: no longer answers 201'],
    [
      'a new required query parameter',
      { query: z.strictObject({ dry_run: z.enum(['true', 'false']) }) },
      'POST /v1/widgets: new required query parameter dry_run',
    ],
  ])('fails on %s', (_case, api, expected) => {
    expect(breakingChanges(baseline, widgetDocument(api))).toContain(expected);
  });

  it.each<[string, WidgetApi]>([
    [
      'an added optional request field',
      { request: { ...baseRequest, note: z.string().max(200).optional() } },
    ],
    ['an added response field', { response: { ...baseResponse, updated_at: z.iso.datetime() } }],
    ['an added enum value', { request: { ...baseRequest, color: z.enum([...colors, 'black']) } }],
    ['a loosened maxLength', { request: { ...baseRequest, name: z.string().min(1).max(128) } }],
    [
      'a request field that now also accepts null',
      { request: { ...baseRequest, size: z.number().int().min(0).nullable().optional() } },
    ],
    [
      'a new optional query parameter',
      { query: z.strictObject({ dry_run: z.enum(['true', 'false']).optional() }) },
    ],
  ])('passes on %s', (_case, api) => {
    expect(breakingChanges(baseline, widgetDocument(api))).toEqual([]);
  });

  it('passes on a new variant of a discriminated response union and fails on a removed one', () => {
    const event = (types: [string, ...string[]]) => {
      const [first, ...rest] = types.map((type) =>
        z.strictObject({ type: z.literal(type), at: z.iso.datetime() }),
      );
      return z.discriminatedUnion('type', [first!, ...rest]).meta({ id: 'WidgetEvent' });
    };
    const withEvents = (types: [string, ...string[]]) =>
      widgetDocument({ response: { ...baseResponse, last_event: event(types) } });
    const before = withEvents(['widget.created', 'widget.painted']);

    expect(
      breakingChanges(before, withEvents(['widget.created', 'widget.painted', 'widget.shipped'])),
    ).toEqual([]);
    expect(breakingChanges(before, withEvents(['widget.created']))).toEqual([
      'WidgetEvent: removed the variant with type = "widget.painted" (response)',
    ]);
  });

  it('notes but does not enforce changes to operations the baseline marks not implemented', () => {
    const result = findBreakingChanges(
      widgetDocument({ implemented: false }),
      widgetDocument({ implemented: false, request: { ...baseRequest, owner: z.string() } }),
    );
    expect(result.breaking).toEqual([]);
    expect(result.notices).toEqual([
      'POST /v1/widgets is not implemented in the baseline; its changes are not enforced',
    ]);
  });
});

describe('the AgentOS APIs against schemas/baseline/', () => {
  it.each(generateApiDocuments().map(({ name, document }) => [name, document] as const))(
    '%s has no breaking changes',
    (name, document) => {
      const accepted = JSON.parse(
        readFileSync(join(baselineDir, documentFileName(name)), 'utf8'),
      ) as JsonObject;
      expect(findBreakingChanges(accepted, document).breaking.map(formatBreakingChange)).toEqual([]);
    },
  );
});

describe('node cli/schemas/additive-guard.ts', () => {
  it('passes against the committed baseline', () => {
    const result = runSchemaScript('additive-guard.ts', []);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('no breaking changes');
  });

  it('exits 1 listing a breaking change, and --accept records the current API as the baseline', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentos-baseline-'));
    expect(runSchemaScript('additive-guard.ts', ['--accept', '--baseline-dir', dir]).status).toBe(0);
    // A baseline that promised one more Run field than the code now returns.
    const file = join(dir, documentFileName('orchestrator'));
    const accepted = JSON.parse(readFileSync(file, 'utf8')) as JsonObject;
    const run = ((accepted['components'] as JsonObject)['schemas'] as JsonObject)['Run'] as JsonObject;
    (run['properties'] as JsonObject)['priority'] = { type: 'integer' };
    writeFileSync(file, canonicalJson(accepted));

    const failing = runSchemaScript('additive-guard.ts', ['--baseline-dir', dir]);
    expect(failing.status).toBe(1);
    expect(failing.stderr).toContain('orchestrator: Run: removed field "priority" (response)');

    expect(runSchemaScript('additive-guard.ts', ['--accept', '--baseline-dir', dir]).stdout).toContain(
      'accepted: orchestrator: Run: removed field "priority" (response)',
    );
    expect(runSchemaScript('additive-guard.ts', ['--baseline-dir', dir]).status).toBe(0);
  });
});
