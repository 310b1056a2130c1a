import { describe, expect, it } from 'vitest';
import {
  parseToolArguments,
  ToolArgumentValidator,
} from '../../../functions/orchestrator/schemas/tool-arguments.ts';

describe('tool arguments', () => {
  it('returns an object for JSON object arguments (empty text included) and a reason otherwise', () => {
    expect(parseToolArguments('')).toEqual({ ok: true, value: {} });
    expect(parseToolArguments('{"a":1}')).toEqual({ ok: true, value: { a: 1 } });
    expect(parseToolArguments('[1]')).toMatchObject({ ok: false });
    expect(parseToolArguments('{oops')).toMatchObject({ ok: false });
  });

  it('checks arguments against the schema, naming the field, with formats and RE2 patterns', () => {
    const validator = new ToolArgumentValidator();
    const schema = {
      type: 'object',
      properties: {
        email: { type: 'string', format: 'email' },
        code: { type: 'string', pattern: '^(a+)+$' },
      },
      required: ['email'],
      additionalProperties: false,
    };
    expect(validator.check(schema, { email: 'a@example.com', code: 'aaaa' })).toEqual({ ok: true });
    expect(validator.check(schema, { email: 'nope' })).toMatchObject({
      ok: false,
      message: expect.stringContaining('/email'),
    });
    expect(validator.check(schema, {})).toMatchObject({
      ok: false,
      message: expect.stringContaining('"email"'),
    });
    // A catastrophic-backtracking pattern answers at once on RE2.
    expect(validator.check(schema, { email: 'a@example.com', code: `${'a'.repeat(5000)}!` })).toMatchObject({
      ok: false,
    });
  });

  it('refuses every call of a schema that does not compile, and says why when asked', () => {
    const validator = new ToolArgumentValidator();
    const broken = { type: 'object', properties: { a: { type: 'no-such-type' } } };
    expect(validator.schemaProblem(broken)).toBeDefined();
    expect(validator.check(broken, { a: 1 })).toMatchObject({ ok: false });
    expect(validator.schemaProblem({ type: 'object' })).toBeUndefined();
  });

  it('keeps compiling correctly beyond its cache bound', () => {
    const validator = new ToolArgumentValidator({ maxSchemas: 2 });
    for (let i = 0; i < 5; i += 1) {
      const schema = { type: 'object', properties: { n: { type: 'integer', maximum: i } } };
      expect(validator.check(schema, { n: i })).toEqual({ ok: true });
      expect(validator.check(schema, { n: i + 1 })).toMatchObject({ ok: false });
    }
  });
});
