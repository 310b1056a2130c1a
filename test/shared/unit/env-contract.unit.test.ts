import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineEnvContract, envVar } from '../../../functions/shared/config/env-contract.ts';
import { ConfigurationError } from '../../../functions/shared/errors/agentos-error.ts';

const contract = defineEnvContract({
  NAME: envVar.string(),
  ENDPOINT: envVar.optionalUrl(),
  LIMIT: envVar.int({ default: 5, min: 1, max: 10 }),
  COUNT: envVar.int({ min: 0 }),
  DOCUMENT: envVar.json(z.object({ items: z.array(z.string()) })).optional(),
});

describe('defineEnvContract', () => {
  it('returns typed values with defaults for unset variables', () => {
    expect(contract.parse({ NAME: 'node', COUNT: '0' })).toEqual({
      NAME: 'node',
      ENDPOINT: undefined,
      LIMIT: 5,
      COUNT: 0,
      DOCUMENT: undefined,
    });
    expect(contract.parse({ NAME: 'n', COUNT: '7', LIMIT: '10', DOCUMENT: '{"items":["a"]}' })).toMatchObject(
      {
        LIMIT: 10,
        COUNT: 7,
        DOCUMENT: { items: ['a'] },
      },
    );
  });

  it('treats a blank variable as unset', () => {
    expect(contract.parse({ NAME: 'n', COUNT: '1', LIMIT: '  ', ENDPOINT: '' })).toMatchObject({
      LIMIT: 5,
      ENDPOINT: undefined,
    });
    expect(() => contract.parse({ NAME: ' ', COUNT: '1' })).toThrow(/NAME: is required/);
  });

  it('throws when an integer is out of range instead of clamping it', () => {
    expect(() => contract.parse({ NAME: 'n', COUNT: '1', LIMIT: '11' })).toThrow(
      /LIMIT: must be an integer 1…10, got "11"/,
    );
    expect(() => contract.parse({ NAME: 'n', COUNT: '1', LIMIT: '0' })).toThrow(ConfigurationError);
    for (const bad of ['2.5', '-1', '1e3', 'ten', '0x10'])
      expect(() => contract.parse({ NAME: 'n', COUNT: bad })).toThrow(/COUNT: must be an integer at least 0/);
  });

  it('throws one error naming every bad variable', () => {
    expect(() => contract.parse({ ENDPOINT: 'not a url', LIMIT: 'x' })).toThrow(
      /NAME: is required.*ENDPOINT: must be an absolute URL.*LIMIT: must be.*COUNT: is required/,
    );
  });

  it('throws naming the place inside a JSON variable', () => {
    expect(() => contract.parse({ NAME: 'n', COUNT: '1', DOCUMENT: '{' })).toThrow(
      /DOCUMENT: is not valid JSON/,
    );
    expect(() => contract.parse({ NAME: 'n', COUNT: '1', DOCUMENT: '{"items":[1]}' })).toThrow(
      /DOCUMENT at items\.0:/,
    );
  });

  it('renders only the values given, and lists the variables without a default as required', () => {
    expect(contract.render({ NAME: 'n', LIMIT: undefined, COUNT: '2' })).toEqual({ NAME: 'n', COUNT: '2' });
    expect(contract.required).toEqual(['NAME', 'COUNT']);
    expect(contract.names.LIMIT).toBe('LIMIT');
  });

  it('returns a contract with the added variables from extend, the original unchanged', () => {
    const extended = contract.extend({ EXTRA: envVar.string() });
    expect(extended.required).toEqual(['NAME', 'COUNT', 'EXTRA']);
    expect(() => extended.parse({ NAME: 'n', COUNT: '1' })).toThrow(/EXTRA: is required/);
    expect(contract.parse({ NAME: 'n', COUNT: '1' })).not.toHaveProperty('EXTRA');
  });
});
