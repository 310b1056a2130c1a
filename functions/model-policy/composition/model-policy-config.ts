import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { TenantIdSchema } from '../../shared/auth/auth-context.ts';
import { intEnv, jsonEnv, maybeEnv, optionalEnv, requiredEnv } from '../../shared/config/env.ts';
import type { EnvSource } from '../../shared/config/env.ts';
import { ConfigurationError } from '../../shared/errors/agentos-error.ts';
import { defaultOperatorTenantId } from '../api/admin-policy-handlers.ts';
import { ModelCatalogSchema } from '../schemas/model-catalog.ts';
import type { ModelCatalog } from '../schemas/model-catalog.ts';
import { TenantModelPolicySchema } from '../schemas/tenant-policy.ts';
import type { TenantModelPolicy } from '../schemas/tenant-policy.ts';
import { defaultModelCatalog } from './default-catalog.ts';
import { defaultTenantPolicy } from './default-policy.ts';

/** Settings of the Model Policy Lambda, read once per process. */
export type ModelPolicyConfig = {
  tableName: string;
  catalog: ModelCatalog;
  /** The policy of tenants without their own. */
  defaultPolicy: TenantModelPolicy;
  /** How long request ids are remembered for dedupe (at least 24 h). */
  requestRetentionSeconds: number;
  /** How long a process reuses a tenant policy it read. */
  policyCacheMs: number;
  maxBodyBytes: number;
  /**
   * The platform's own tenant: only its operators (scope `operator`) may administer other tenants'
   * policies, so an operator scope minted for any other tenant grants nothing.
   */
  operatorTenantId: string;
};

const day = 24 * 3600;

function parsed<S extends z.ZodType>(schema: S, value: unknown, source: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue === undefined || issue.path.length === 0 ? '' : ` at ${issue.path.join('.')}`;
  throw new ConfigurationError(`${source} is invalid${where}: ${issue?.message ?? 'unknown issue'}`);
}

function catalogSource(env: EnvSource): { value: unknown; source: string } {
  if (maybeEnv('AGENTOS_MODEL_CATALOG', env) !== undefined) {
    return { value: jsonEnv('AGENTOS_MODEL_CATALOG', env), source: 'AGENTOS_MODEL_CATALOG' };
  }
  // Lambda environments hold 4 KB in all: a large catalog ships as a file next to the code.
  const file = maybeEnv('AGENTOS_MODEL_CATALOG_FILE', env);
  if (file === undefined) return { value: defaultModelCatalog, source: 'the default model catalog' };
  try {
    return {
      value: JSON.parse(readFileSync(file, 'utf8')) as unknown,
      source: `AGENTOS_MODEL_CATALOG_FILE (${file})`,
    };
  } catch (cause) {
    throw new ConfigurationError(`AGENTOS_MODEL_CATALOG_FILE (${file}) cannot be read as JSON`, { cause });
  }
}

/** Reads and validates the Model Policy's settings, throwing on the first bad one. */
export function modelPolicyConfigFromEnv(env: EnvSource = process.env): ModelPolicyConfig {
  const catalog = catalogSource(env);
  const policy =
    maybeEnv('AGENTOS_MODEL_DEFAULT_POLICY', env) === undefined
      ? { value: defaultTenantPolicy, source: 'the default tenant policy' }
      : { value: jsonEnv('AGENTOS_MODEL_DEFAULT_POLICY', env), source: 'AGENTOS_MODEL_DEFAULT_POLICY' };
  return {
    tableName: requiredEnv('AGENTOS_TABLE_NAME', env),
    catalog: parsed(ModelCatalogSchema, catalog.value, catalog.source),
    defaultPolicy: parsed(TenantModelPolicySchema, policy.value, policy.source),
    requestRetentionSeconds: Math.max(day, intEnv('AGENTOS_MODEL_REQUEST_TTL_SECONDS', day, env)),
    policyCacheMs: intEnv('AGENTOS_MODEL_POLICY_CACHE_MS', 2000, env),
    maxBodyBytes: intEnv('AGENTOS_MODEL_MAX_BODY_BYTES', 1024 * 1024, env),
    operatorTenantId: parsed(
      TenantIdSchema,
      optionalEnv('AGENTOS_OPERATOR_TENANT', defaultOperatorTenantId, env),
      'AGENTOS_OPERATOR_TENANT',
    ),
  };
}
