import { telemetryEnv } from '../../shared/observability/telemetry-env.ts';
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { corsEnv } from '../../shared/http/cors.ts';
import { TenantIdSchema } from '../../shared/auth/auth-context.ts';
import { jwtVerifierEnv } from '../../shared/auth/auth-config.ts';
import { awsClientEnv } from '../../shared/aws/client-config.ts';
import type { EnvSource } from '../../shared/config/env.ts';
import { envVar } from '../../shared/config/env-contract.ts';
import { ConfigurationError } from '../../shared/errors/agentos-error.ts';
import { defaultOperatorTenantId } from '../api/admin-policy-handlers.ts';
import { ModelCatalogSchema } from '../schemas/model-catalog.ts';
import type { ModelCatalog } from '../schemas/model-catalog.ts';
import { DenyPatternEngineNotLoadedError, prepareDenyPatterns } from '../policy/deny-pattern.ts';
import { TenantModelPolicySchema } from '../schemas/tenant-policy.ts';
import type { TenantModelPolicy } from '../schemas/tenant-policy.ts';
import { defaultModelCatalog } from './default-catalog.ts';
import { defaultTenantPolicy } from './default-policy.ts';
import { tenancyEnv } from '../../shared/tenancy/tenancy-config.ts';

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
  /** Where settlements the table refused go to be written later; none: they are logged and lost. */
  settlementQueueUrl?: string;
};

const day = 24 * 3600;

/** The environment of the Model Policy function. */
export const modelPolicyEnv = awsClientEnv.extend({
  ...jwtVerifierEnv.variables,
  ...telemetryEnv.variables,
  ...tenancyEnv.variables,
  ...corsEnv.variables,
  AGENTOS_TABLE_NAME: envVar.string(),
  /** The catalog as JSON; Lambda environments hold 4 KB in all, so a large one ships as a file. */
  AGENTOS_MODEL_CATALOG: envVar.optionalString(),
  /** A catalog file; a relative path is relative to the function's code (where a deployed node ships it). */
  AGENTOS_MODEL_CATALOG_FILE: envVar.optionalString(),
  AGENTOS_MODEL_DEFAULT_POLICY: envVar.json(TenantModelPolicySchema).optional(),
  /** Request ids are remembered for at least the day clients may retry in. */
  AGENTOS_MODEL_REQUEST_TTL_SECONDS: envVar.int({ default: day, min: day }),
  AGENTOS_MODEL_POLICY_CACHE_MS: envVar.int({ default: 2000, min: 0, max: 300_000 }),
  AGENTOS_MODEL_MAX_BODY_BYTES: envVar.int({ default: 1024 * 1024, min: 1024, max: 6 * 1024 * 1024 }),
  AGENTOS_OPERATOR_TENANT: z
    .string()
    .optional()
    .transform((value) => value ?? defaultOperatorTenantId)
    .pipe(TenantIdSchema),
  /**
   * The settlement queue (HLD §5.3): a settlement the table refuses after its retries is handed
   * here for the settlement worker. Unset, such a settlement is logged and counted, and lost.
   */
  AGENTOS_SETTLEMENT_QUEUE_URL: envVar.optionalUrl(),
});

/** The environment of the settlement worker, which writes queued settlements to the ledger. */
export const settlementWorkerEnv = awsClientEnv.extend({
  ...telemetryEnv.variables,
  AGENTOS_TABLE_NAME: envVar.string(),
});

function parsed<S extends z.ZodType>(schema: S, value: unknown, source: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue === undefined || issue.path.length === 0 ? '' : ` at ${issue.path.join('.')}`;
  throw new ConfigurationError(`${source} is invalid${where}: ${issue?.message ?? 'unknown issue'}`);
}

/**
 * A relative catalog path is relative to the function's code: a deployed node ships its catalog
 * beside the bundle (infra/stacks), wherever the code is unpacked.
 */
function catalogPath(file: string): string {
  return isAbsolute(file) ? file : fileURLToPath(new URL(file, import.meta.url));
}

function catalogSource(
  inline: string | undefined,
  file: string | undefined,
): { value: unknown; source: string } {
  const { AGENTOS_MODEL_CATALOG, AGENTOS_MODEL_CATALOG_FILE } = modelPolicyEnv.names;
  if (inline !== undefined) {
    try {
      return { value: JSON.parse(inline) as unknown, source: AGENTOS_MODEL_CATALOG };
    } catch (cause) {
      throw new ConfigurationError(`${AGENTOS_MODEL_CATALOG} is not valid JSON`, { cause });
    }
  }
  if (file === undefined) return { value: defaultModelCatalog, source: 'the default model catalog' };
  try {
    return {
      value: JSON.parse(readFileSync(catalogPath(file), 'utf8')) as unknown,
      source: `${AGENTOS_MODEL_CATALOG_FILE} (${file})`,
    };
  } catch (cause) {
    throw new ConfigurationError(`${AGENTOS_MODEL_CATALOG_FILE} (${file}) cannot be read as JSON`, { cause });
  }
}

/**
 * Loads what validating the settings needs beyond init: RE2, when the default policy in `env` holds
 * content patterns. Await it before {@link modelPolicyConfigFromEnv}; text that is not JSON loads
 * nothing (the settings' validation names it).
 */
export async function prepareModelPolicyEnv(env: EnvSource = process.env): Promise<void> {
  const text = env[modelPolicyEnv.names.AGENTOS_MODEL_DEFAULT_POLICY];
  if (text === undefined || text.trim() === '') return;
  let policy: unknown;
  try {
    policy = JSON.parse(text);
  } catch {
    return;
  }
  await prepareDenyPatterns(policy);
}

/** Reads and validates the Model Policy's settings, throwing on the bad ones. */
export function modelPolicyConfigFromEnv(env: EnvSource = process.env): ModelPolicyConfig {
  let values: ReturnType<typeof modelPolicyEnv.parse>;
  try {
    values = modelPolicyEnv.parse(env);
  } catch (error) {
    if (!(error instanceof DenyPatternEngineNotLoadedError)) throw error;
    throw new ConfigurationError(
      `${modelPolicyEnv.names.AGENTOS_MODEL_DEFAULT_POLICY} holds deny-rule content patterns, which need RE2: await prepareModelPolicyEnv(env) first`,
      { cause: error },
    );
  }
  const catalog = catalogSource(values.AGENTOS_MODEL_CATALOG, values.AGENTOS_MODEL_CATALOG_FILE);
  return {
    tableName: values.AGENTOS_TABLE_NAME,
    catalog: parsed(ModelCatalogSchema, catalog.value, catalog.source),
    defaultPolicy:
      values.AGENTOS_MODEL_DEFAULT_POLICY ??
      parsed(TenantModelPolicySchema, defaultTenantPolicy, 'the default tenant policy'),
    requestRetentionSeconds: values.AGENTOS_MODEL_REQUEST_TTL_SECONDS,
    policyCacheMs: values.AGENTOS_MODEL_POLICY_CACHE_MS,
    maxBodyBytes: values.AGENTOS_MODEL_MAX_BODY_BYTES,
    operatorTenantId: values.AGENTOS_OPERATOR_TENANT,
    ...(values.AGENTOS_SETTLEMENT_QUEUE_URL === undefined
      ? {}
      : { settlementQueueUrl: values.AGENTOS_SETTLEMENT_QUEUE_URL }),
  };
}
