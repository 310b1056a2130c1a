import { describe, expect, it } from 'vitest';
import {
  compileDenyPattern,
  DenyPatternEngineNotLoadedError,
  holdsDenyPatterns,
  isValidDenyPattern,
  prepareDenyPatterns,
} from '../../../functions/model-policy/policy/deny-pattern.ts';
import { DenyRuleSchema } from '../../../functions/model-policy/schemas/tenant-policy.ts';

const rule = { id: 'no-secrets', reason: 'secrets', content: ['secret-[0-9]+'] };
const withPatterns = { deny_rules: [rule] };

// One module instance per test file: the cases run in order, before and after RE2 is loaded.
describe('deny patterns, with RE2 loaded on first need', () => {
  it('says which policies may hold content patterns', () => {
    expect(holdsDenyPatterns(withPatterns)).toBe(true);
    expect(holdsDenyPatterns({ deny_rules: [{ id: 'x', reason: 'y', models: ['openai/*'] }] })).toBe(false);
    expect(holdsDenyPatterns({ deny_rules: [{ content: [] }] })).toBe(false);
    expect(holdsDenyPatterns({ deny_rules: 'not a list' })).toBe(false);
    expect(holdsDenyPatterns(null)).toBe(false);
    expect(holdsDenyPatterns([withPatterns])).toBe(false);
  });

  it('throws a wiring error, not a validation answer, when a pattern is used before RE2 is loaded', async () => {
    await prepareDenyPatterns({ deny_rules: [{ id: 'x', reason: 'y', models: ['openai/*'] }] });
    expect(() => compileDenyPattern('secret')).toThrow(DenyPatternEngineNotLoadedError);
    expect(() => DenyRuleSchema.safeParse(rule)).toThrow(DenyPatternEngineNotLoadedError);
  });

  it('validates and compiles patterns once a policy holding them was prepared', async () => {
    await prepareDenyPatterns(withPatterns);
    expect(DenyRuleSchema.safeParse(rule).success).toBe(true);
    expect(DenyRuleSchema.safeParse({ ...rule, content: ['(a)\\1'] }).success).toBe(false);
    expect(isValidDenyPattern('(?=lookahead)')).toBe(false);
    expect(compileDenyPattern('secret-[0-9]+').test('my SECRET-42 here')).toBe(true);
    expect(compileDenyPattern('secret-[0-9]+').test('nothing')).toBe(false);
  });
});
