import { describe, expect, it } from 'vitest';
import { defaultTenantPolicy } from '../../../functions/model-policy/composition/default-policy.ts';
import {
  modelPolicyConfigFromEnv,
  prepareModelPolicyEnv,
} from '../../../functions/model-policy/composition/model-policy-config.ts';
import { ConfigurationError } from '../../../functions/shared/errors/agentos-error.ts';

const env = {
  AGENTOS_TABLE_NAME: 'agentos-test',
  AGENTOS_TRUSTED_ISSUERS: JSON.stringify([
    { issuer: 'https://issuer.test/', jwks_url: 'https://issuer.test/jwks.json' },
  ]),
  AGENTOS_JWT_AUDIENCE: 'agentos',
  AGENTOS_MODEL_DEFAULT_POLICY: JSON.stringify({
    ...defaultTenantPolicy,
    deny_rules: [{ id: 'no-secrets', reason: 'no secrets', content: ['secret-[0-9]+'] }],
  }),
};

// One module instance per test file: the cases run in order, before and after RE2 is loaded.
describe('a default policy holding deny-rule content patterns', () => {
  it('throws a configuration error naming the variable when its settings are read before RE2 is loaded', () => {
    expect(() => modelPolicyConfigFromEnv(env)).toThrow(ConfigurationError);
    expect(() => modelPolicyConfigFromEnv(env)).toThrow(/AGENTOS_MODEL_DEFAULT_POLICY/);
  });

  it('loads nothing for text that is not JSON, leaving the settings to name it', async () => {
    await prepareModelPolicyEnv({ ...env, AGENTOS_MODEL_DEFAULT_POLICY: '{not json' });
    expect(() => modelPolicyConfigFromEnv({ ...env, AGENTOS_MODEL_DEFAULT_POLICY: '{not json' })).toThrow(
      /AGENTOS_MODEL_DEFAULT_POLICY/,
    );
    expect(() => modelPolicyConfigFromEnv(env)).toThrow(/need RE2/);
  });

  it('is read with its patterns once the environment was prepared', async () => {
    await prepareModelPolicyEnv(env);
    const config = modelPolicyConfigFromEnv(env);
    expect(config.defaultPolicy.deny_rules).toEqual([
      { id: 'no-secrets', reason: 'no secrets', content: ['secret-[0-9]+'] },
    ]);
  });
});
