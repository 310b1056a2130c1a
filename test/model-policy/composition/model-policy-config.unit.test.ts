import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultModelCatalog } from '../../../functions/model-policy/composition/default-catalog.ts';
import { modelPolicyConfigFromEnv } from '../../../functions/model-policy/composition/model-policy-config.ts';

const base = {
  AGENTOS_TABLE_NAME: 'agentos-test',
  AGENTOS_TRUSTED_ISSUERS: JSON.stringify([
    { issuer: 'https://issuer.test/', jwks_url: 'https://issuer.test/jwks.json' },
  ]),
  AGENTOS_JWT_AUDIENCE: 'agentos',
};

describe('modelPolicyConfigFromEnv', () => {
  it('defaults to the local catalog and a default policy with finite budgets', () => {
    const config = modelPolicyConfigFromEnv(base);
    expect(Object.keys(config.catalog.models)).toEqual(['local/echo', 'local/scripted', 'local/embed-small']);
    expect(config.catalog.tiers).toMatchObject({ fast: ['local/echo'] });
    expect(config.defaultPolicy.budgets.some((budget) => budget.limit_tokens !== undefined)).toBe(true);
    expect(config.defaultPolicy.budgets.some((budget) => budget.limit_usd !== undefined)).toBe(true);
    expect(config.requestRetentionSeconds).toBeGreaterThanOrEqual(24 * 3600);
  });

  it('takes the operator tenant from AGENTOS_OPERATOR_TENANT, "operator" by default', () => {
    expect(modelPolicyConfigFromEnv(base).operatorTenantId).toBe('operator');
    expect(
      modelPolicyConfigFromEnv({ ...base, AGENTOS_OPERATOR_TENANT: 'platform-ops' }).operatorTenantId,
    ).toBe('platform-ops');
    expect(() => modelPolicyConfigFromEnv({ ...base, AGENTOS_OPERATOR_TENANT: 'Not A Tenant!' })).toThrow(
      /AGENTOS_OPERATOR_TENANT/,
    );
  });

  it('throws when asked to remember request ids for less than 24 hours', () => {
    expect(() => modelPolicyConfigFromEnv({ ...base, AGENTOS_MODEL_REQUEST_TTL_SECONDS: '60' })).toThrow(
      /AGENTOS_MODEL_REQUEST_TTL_SECONDS: must be an integer at least 86400/,
    );
  });

  it('throws naming the variable and the place of a bad catalog', () => {
    const catalog = {
      ...defaultModelCatalog,
      models: { ...defaultModelCatalog.models, 'openai/gpt-4o': { backend: 'nowhere', model: 'gpt-4o' } },
    };
    expect(() =>
      modelPolicyConfigFromEnv({ ...base, AGENTOS_MODEL_CATALOG: JSON.stringify(catalog) }),
    ).toThrow(/AGENTOS_MODEL_CATALOG is invalid at models\.openai\/gpt-4o\.backend/);
  });

  it('throws when a model has no price', () => {
    const catalog = {
      ...defaultModelCatalog,
      models: { ...defaultModelCatalog.models, 'local/extra': { backend: 'local', model: 'echo' } },
    };
    expect(() =>
      modelPolicyConfigFromEnv({ ...base, AGENTOS_MODEL_CATALOG: JSON.stringify(catalog) }),
    ).toThrow(/no price for model "local\/extra"/);
  });

  it('refuses credentials given as values rather than references', () => {
    const catalog = {
      ...defaultModelCatalog,
      backends: {
        ...defaultModelCatalog.backends,
        openai: { kind: 'openai', base_url: 'https://api.openai.com/v1', api_key: 'sk-live' },
      },
    };
    expect(() =>
      modelPolicyConfigFromEnv({ ...base, AGENTOS_MODEL_CATALOG: JSON.stringify(catalog) }),
    ).toThrow(/backends\.openai\.api_key/);
  });

  it('refuses a default policy without budgets', () => {
    const policy = { entitlements: { allow: ['*'] }, max_tokens: 100, budgets: [] };
    expect(() =>
      modelPolicyConfigFromEnv({ ...base, AGENTOS_MODEL_DEFAULT_POLICY: JSON.stringify(policy) }),
    ).toThrow(/AGENTOS_MODEL_DEFAULT_POLICY at budgets/);
  });

  it('reads a catalog from a file', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'catalog-')), 'catalog.json');
    writeFileSync(file, JSON.stringify({ ...defaultModelCatalog, tiers: { mine: ['local/scripted'] } }));
    expect(modelPolicyConfigFromEnv({ ...base, AGENTOS_MODEL_CATALOG_FILE: file }).catalog.tiers).toEqual({
      mine: ['local/scripted'],
    });
  });
});
