import type { TenantModelPolicy } from '../schemas/tenant-policy.ts';
import { anyGlobMatches } from './model-glob.ts';

/**
 * Whether a tenant may use a model ref (a concrete model or a `tier:` name): it must match an
 * `allow` glob and no `deny` glob.
 */
export function isEntitled(entitlements: TenantModelPolicy['entitlements'], modelRef: string): boolean {
  return anyGlobMatches(entitlements.allow, modelRef) && !anyGlobMatches(entitlements.deny, modelRef);
}
