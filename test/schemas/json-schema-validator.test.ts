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
    ['a missing required property', { ...valid, color: undefined }, 'missing required property "color"'],
    ['an undeclared property', { ...valid, size: 3 }, 'unexpected property "size"'],
    ['a value outside an enum', { ...valid, color: 'blue' }, 'not one of'],
    ['a string over maxLength', { ...valid, name: 'abcdefghi' }, 'longer than 8'],
    ['a string that breaks the pattern', { ...valid, name: 'Gizmo' }, 'does not match'],
    ['a wrong type', { ...valid, note: 3 }, 'expected string or null'],
    ['a malformed date-time', { ...valid, created_at: '26/11/2025' }, 'is not a valid date-time'],
    [
      'a union member that fits no alternative',
      { ...valid, shapes: [{ kind: 'circle', side: 2 }] },
      'matches none',
    ],
    [
      'an exclusive minimum reached',
      { ...valid, shapes: [{ kind: 'circle', radius: 0 }] },
      'not greater than 0',
    ],
    [
      'a non-integer where an integer is required',
      { ...valid, shapes: [{ kind: 'square', side: 1.5 }] },
      'expected integer',
    ],
    [
      'too many items',
      { ...valid, shapes: [valid.shapes[0], valid.shapes[0], valid.shapes[0]] },
      'more than 2 items',
    ],
    ['a key outside propertyNames', { ...valid, labels: { Team: 'core' } }, 'property name "Team"'],
  ])('rejects %s', (_case, value, message) => {
    const input = JSON.parse(JSON.stringify(value)) as unknown;
    const issues = validateJsonSchema(document, widget, input);
    expect(issues.map((issue) => issue.message).join('\n')).toContain(message);
  });

  it('throws on a keyword it does not implement instead of ignoring it', () => {
    expect(() => validateJsonSchema(document, { type: 'object', unevaluatedProperties: false }, {})).toThrow(
      /unevaluatedProperties/,
    );
    expect(unsupportedKeywords({ type: 'object', properties: { a: { if: {} } } })).toEqual([
      '/properties/a: if',
    ]);
  });

  it('throws on a format it cannot assert', () => {
    expect(() => validateJsonSchema(document, { type: 'string', format: 'hostname' }, 'example.com')).toThrow(
      /hostname/,
    );
  });
});
