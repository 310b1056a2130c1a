import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../../functions/shared/errors/agentos-error.ts';
import { ProviderError } from '../../../functions/model-policy/ports/model-provider-port.ts';
import type { ResponseFormat } from '../../../functions/model-policy/ports/model-provider-port.ts';
import {
  checkResponseFormat,
  checkStructuredOutput,
  maxSchemaBytes,
} from '../../../functions/model-policy/invocation/response-format.ts';
import { sampleOfSchema } from '../../../functions/model-policy/providers/schema-sample.ts';

function jsonSchema(schema: Record<string, unknown>): ResponseFormat {
  return { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } };
}

async function thrown(action: () => Promise<unknown>): Promise<unknown> {
  try {
    await action();
  } catch (error) {
    return error;
  }
  return undefined;
}

const person = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 2 },
    age: { type: 'integer', minimum: 18 },
    role: { enum: ['admin', 'member'] },
    friend: { anyOf: [{ $ref: '#/$defs/pet' }, { type: 'null' }] },
  },
  required: ['name', 'age', 'role', 'friend'],
  additionalProperties: false,
  $defs: { pet: { type: 'object', properties: { species: { type: 'string' } }, required: ['species'] } },
};

describe('checkResponseFormat', () => {
  it('throws when the schema is larger than the bound, naming the field', async () => {
    const error = await thrown(() =>
      checkResponseFormat(jsonSchema({ type: 'string', description: 'x'.repeat(maxSchemaBytes) })),
    );
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).details).toMatchObject({
      fields: [{ field: 'response_format.json_schema.schema' }],
    });
  });

  it('throws when the schema is not a valid JSON Schema', async () => {
    await expect(checkResponseFormat(jsonSchema({ type: 'no-such-type' }))).rejects.toThrow(
      InvalidRequestError,
    );
  });

  it('returns for a valid schema, json_object and text', async () => {
    await expect(checkResponseFormat(jsonSchema(person))).resolves.toBeUndefined();
    await expect(checkResponseFormat({ type: 'json_object' })).resolves.toBeUndefined();
    await expect(checkResponseFormat({ type: 'text' })).resolves.toBeUndefined();
  });

  it('returns for a schema declaring JSON Schema 2020-12, as zod 4 derives them, and checks answers by it', async () => {
    const format = jsonSchema({ $schema: 'https://json-schema.org/draft/2020-12/schema', ...person });
    await expect(checkResponseFormat(format)).resolves.toBeUndefined();
    await expect(
      checkStructuredOutput(format, JSON.stringify(sampleOfSchema(person)), false),
    ).resolves.toBeUndefined();
    expect(await thrown(() => checkStructuredOutput(format, '{"name":"Al"}', false))).toBeInstanceOf(
      ProviderError,
    );
  });
});

describe('checkStructuredOutput', () => {
  it.for([
    [jsonSchema(person), '{"name":"Al"}'],
    [{ type: 'json_object' }, '[1,2]'],
    [{ type: 'json_object' }, 'plain text'],
  ] as [ResponseFormat, string][])(
    'throws output_invalid, which falls back, for %o and %s',
    async ([format, content]) => {
      const error = await thrown(() => checkStructuredOutput(format, content, false));
      expect(error).toBeInstanceOf(ProviderError);
      expect((error as ProviderError).kind).toBe('output_invalid');
      expect((error as ProviderError).fallbackEligible).toBe(true);
    },
  );

  it('returns for matching content and for an answer holding tool calls', async () => {
    await expect(checkStructuredOutput({ type: 'json_object' }, null, true)).resolves.toBeUndefined();
    await expect(
      checkStructuredOutput(jsonSchema(person), JSON.stringify(sampleOfSchema(person)), false),
    ).resolves.toBeUndefined();
  });
});

describe('sampleOfSchema', () => {
  it('returns a deterministic value matching the schema, refs and bounds included', () => {
    expect(sampleOfSchema(person)).toEqual({ name: 'xx', age: 18, role: 'admin', friend: { species: '' } });
  });

  it('returns null past the depth bound of a self-referencing schema', () => {
    let value: unknown = sampleOfSchema({ type: 'object', properties: { next: { $ref: '#' } } });
    let depth = 0;
    while (typeof value === 'object' && value !== null) {
      value = (value as { next: unknown }).next;
      depth += 1;
    }
    expect(value).toBeNull();
    expect(depth).toBeLessThanOrEqual(33);
  });
});
