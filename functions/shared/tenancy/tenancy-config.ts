import type { EnvSource } from '../config/env.ts';
import { defineEnvContract, envVar } from '../config/env-contract.ts';
import { admissionCacheSeconds } from './admission-port.ts';

/**
 * The tenancy variables every function that admits tokens reads; each function's contract spreads
 * them into its own (HLD §5.2).
 */
export const tenancyEnv = defineEnvContract({
  /**
   * How long a function instance acts on a cached tenant record (status, quotas, revocations) before
   * reading it again: a disabled tenant or a revoked token is refused on every instance within it.
   */
  AGENTOS_TENANT_CACHE_SECONDS: envVar.int({ default: admissionCacheSeconds, min: 0, max: 60 }),
});

/** The tenancy settings of a function. */
export type TenancyConfig = { tenantCacheSeconds: number };

/** Reads the tenancy settings, throwing on bad values. */
export function tenancyConfigFromEnv(env: EnvSource = process.env): TenancyConfig {
  return { tenantCacheSeconds: tenancyEnv.parse(env).AGENTOS_TENANT_CACHE_SECONDS };
}
