import type { TenantModelPolicy } from '../schemas/tenant-policy.ts';
import { anyGlobMatches } from './model-glob.ts';

/**
 * Whether a tenant may use a model ref (a concrete model or a `tier:` name): it must match an
 * `allow` glob and no `deny` glob.
 */
export function isEntitled(entitlements: TenantModelPolicy['entitlements'], modelRef: string): boolean {
  return anyGlobMatches(entitlements.allow, modelRef) && !anyGlobMatches(entitlements.deny, modelRef);
}

/**
 * The refs (models and tiers) a tenant may call: the entitled models, and the entitled tiers with at
 * least one entitled member (a tier of nothing but denied models is of no use to it).
 */
export function entitledRefs(
  entitlements: TenantModelPolicy['entitlements'],
  refs: { models: readonly string[]; tiers: readonly { ref: string; members: readonly string[] }[] },
): string[] {
  return [
    ...refs.models.filter((ref) => isEntitled(entitlements, ref)),
    ...refs.tiers
      .filter(
        (tier) =>
          isEntitled(entitlements, tier.ref) &&
          tier.members.some((member) => isEntitled(entitlements, member)),
      )
      .map((tier) => tier.ref),
  ];
}
