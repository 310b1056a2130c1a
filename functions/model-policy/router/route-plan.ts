import { InvalidRequestError, NotFoundError } from '../../shared/errors/agentos-error.ts';
import type { BackendConfig, ModelCatalog } from '../schemas/model-catalog.ts';

/** One model of a fallback chain, with what it takes to call it. */
export type RouteTarget = {
  /** The catalog's model ref, e.g. `openai/gpt-4o-mini`. */
  modelRef: string;
  backendId: string;
  backendKind: BackendConfig['kind'];
  /** The backend's own model id. */
  backendModel: string;
  timeoutMs: number;
};

const tierPrefix = 'tier:';

/**
 * The models a `model_ref` stands for, in fallback order: a tier's members, or a model followed by
 * its configured fallbacks.
 *
 * @throws NotFoundError when the catalog has no such model or tier.
 */
export function candidatesFor(catalog: ModelCatalog, modelRef: string): string[] {
  if (modelRef.startsWith(tierPrefix)) {
    const members = catalog.tiers[modelRef.slice(tierPrefix.length)];
    if (members === undefined) throw new NotFoundError(`The model tier '${modelRef}' does not exist`);
    return [...new Set(members)];
  }
  const model = catalog.models[modelRef];
  if (model === undefined) throw new NotFoundError(`The model '${modelRef}' does not exist`);
  return [...new Set([modelRef, ...model.fallbacks])];
}

/**
 * The routable targets of an (entitled) chain: only models that accept tools when the call carries
 * any.
 *
 * @throws InvalidRequestError when tools are needed and no model of the chain takes them.
 */
export function routeTargets(
  catalog: ModelCatalog,
  chain: readonly string[],
  needsTools: boolean,
): RouteTarget[] {
  const targets = chain
    .filter((ref) => !needsTools || catalog.models[ref]?.tools === true)
    .map((ref): RouteTarget => {
      const model = catalog.models[ref]!;
      const backend = catalog.backends[model.backend]!;
      return {
        modelRef: ref,
        backendId: model.backend,
        backendKind: backend.kind,
        backendModel: model.model,
        timeoutMs: backend.timeout_ms,
      };
    });
  if (targets.length === 0) {
    throw new InvalidRequestError('No model of this model_ref accepts tools', [
      { field: 'tools', message: 'not supported by the requested model' },
    ]);
  }
  return targets;
}

/** The smallest output limit among the targets, so whichever answers can honour it. */
export function outputLimitOf(catalog: ModelCatalog, targets: readonly RouteTarget[]): number | undefined {
  const limits = targets
    .map((target) => catalog.models[target.modelRef]?.max_output_tokens)
    .filter((limit): limit is number => limit !== undefined);
  return limits.length === 0 ? undefined : Math.min(...limits);
}

/** Every model ref and tier of the catalog, tiers as `tier:<name>`. */
export function catalogRefs(catalog: ModelCatalog): { models: string[]; tiers: string[] } {
  return {
    models: Object.keys(catalog.models).sort(),
    tiers: Object.keys(catalog.tiers)
      .sort()
      .map((tier) => `${tierPrefix}${tier}`),
  };
}
