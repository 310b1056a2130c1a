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

/** What a call's images ask of a model: any image at all, and any given as an `https:` URL. */
export type ImageNeeds = { any: boolean; fetched: boolean; modelRef: string };

/**
 * The routable targets of an (entitled) chain: only models that accept tools when the call carries
 * any, only vision models when it carries images (and no Bedrock model for `https:` images).
 *
 * @throws InvalidRequestError when tools or images are needed and no model of the chain takes them.
 */
export function routeTargets(
  catalog: ModelCatalog,
  chain: readonly string[],
  needsTools: boolean,
  images?: ImageNeeds,
): RouteTarget[] {
  const withTools = chain.filter((ref) => !needsTools || catalog.models[ref]?.tools === true);
  if (images?.any === true) {
    const vision = withTools.filter((ref) => catalog.models[ref]?.vision === true);
    if (vision.length === 0) {
      throw new InvalidRequestError(`The model '${images.modelRef}' does not take image input`, [
        { field: 'messages', message: 'image_url parts need a model with vision' },
      ]);
    }
    // Bedrock takes image bytes only, and the gateway never fetches a URL for a caller.
    const reachable = images.fetched
      ? vision.filter((ref) => catalog.backends[catalog.models[ref]!.backend]?.kind !== 'bedrock')
      : vision;
    if (reachable.length === 0) {
      throw new InvalidRequestError(
        `The model '${images.modelRef}' takes images as base64 data: URLs only; https: URLs are not fetched`,
        [{ field: 'messages', message: 'send the image as a data: URL' }],
      );
    }
    withTools.splice(0, withTools.length, ...reachable);
  }
  const targets = withTools.map((ref): RouteTarget => {
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
