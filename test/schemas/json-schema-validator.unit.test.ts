import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../cli/schemas/json-value.ts';
import { unsupportedKeywords, validateJsonSchema } from './support/json-schema-validator.ts';

const document: JsonObject = {
  components: {
    schemas: {
      Color: { type: 'string', enum: ['red', 'green'] },
      Shape: {
        oneOf: [
          {
            type: 'object',
            properties: {
              kind: { type: 'string', const: 'circle' },
              radius: { type: 'number', exclusiveMinimum: 0 },
            },
            required: ['kind', 'radius'],
            additionalProperties: false,
          },
          {
            type: 'object',
            properties: { kind: { type: 'string', const: 'square' }, side: { type: 'integer', minimum: 1 } },
            required: ['kind', 'side'],
            additionalProperties: false,
          },
        ],
      },
      Widget: {
        type: 'object',
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 8, pattern: '^[a-z]+$' },
          color: { $ref: '#/components/schemas/Color' },
          shapes: { type: 'array', items: { $ref: '#/components/schemas/Shape' }, maxItems: 2 },
          note: { type: ['string', 'null'] },
          created_at: { type: 'string', format: 'date-time' },
          labels: {
            type: 'object',
            propertyNames: { type: 'string', pattern: '^[a-z]+$' },
            additionalProperties: { type: 'string' },
          },
        },
        required: ['name', 'color'],
        additionalProperties: false,
      },
    },
  },
};
const widget = { $ref: '#/components/schemas/Widget' };
const valid = {
  name: 'gizmo',
  color: 'red',
  shapes: [{ kind: 'circle', radius: 1.5 }],
  note: null,
  created_at: '2025-11-26T09:30:00.112Z',
  labels: { team: 'core' },
};

describe('the JSON Schema validator used on examples', () => {
  it('accepts a value that meets every constraint', () => {
    expect(validateJsonSchema(document, widget, valid)).toEqual([]);
  });

  it.each([
    [
      'a missing required property',
      { ...valid, color: undefined },
      'must have required property \'color\' "color"',
    ],
    ['an undeclared property', { ...valid, size: 3 }, 'must NOT have additional properties "size"'],
    ['a value outside an enum', { ...valid, color: 'blue' }, 'must be equal to one of the allowed values'],
    ['a string over maxLength', { ...valid, name: 'abcdefghi' }, 'must NOT have more than 8 characters'],
    ['a string that breaks the pattern', { ...valid, name: 'Gizmo' }, 'must match pattern'],
    ['a wrong type', { ...valid, note: 3 }, 'must be string,null'],
    ['a malformed date-time', { ...valid, created_at: '26/11/2025' }, 'must match format "date-time"'],
    [
      'a union member that fits no alternative',
      { ...valid, shapes: [{ kind: 'circle', side: 2 }] },
      'must match exactly one schema in oneOf',
    ],
    ['an exclusive minimum reached', { ...valid, shapes: [{ kind: 'circle', radius: 0 }] }, 'must be > 0'],
    [
      'a non-integer where an integer is required',
      { ...valid, shapes: [{ kind: 'square', side: 1.5 }] },
      'must be integer',
    ],
    [
      'too many items',
      { ...valid, shapes: [valid.shapes[0], valid.shapes[0], valid.shapes[0]] },
      'must NOT have more than 2 items',
    ],
    [
      'a key outside propertyNames',
      { ...valid, labels: { Team: 'core' } },
      'property name must be valid "Team"',
    ],
  ])('rejects %s', (_case, value, message) => {
    const input = JSON.parse(JSON.stringify(value)) as unknown;
    const issues = validateJsonSchema(document, widget, input);
    expect(issues.map((issue) => issue.message).join('\n')).toContain(message);
  });

  it('throws on a keyword or format it does not know instead of ignoring it', () => {
    expect(() =>
      validateJsonSchema(document, { type: 'object', properties: { a: { iff: {} } } }, {}),
    ).toThrow(/iff/);
    expect(unsupportedKeywords(document, { type: 'string', format: 'no-such-format' })).toEqual([
      expect.stringContaining('no-such-format'),
    ]);
  });
});
