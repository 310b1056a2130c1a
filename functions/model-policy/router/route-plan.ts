import {
  InvalidRequestError,
  NotFoundError,
  PayloadTooLargeError,
} from '../../shared/errors/agentos-error.ts';
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
  /** An embedding model's native vector length. */
  dimensions?: number;
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

/** What a call asks of its models: chat completions, or embeddings. */
export type ModelKind = 'chat' | 'embedding';

/**
 * The candidates of the kind a call needs: a chat call never lands on an embedding model, nor an
 * embeddings call on a chat model (a tier may hold both; only its members of the kind are tried).
 *
 * @throws InvalidRequestError naming the model and the endpoint to use when none is of the kind.
 */
export function candidatesOfKind(
  catalog: ModelCatalog,
  candidates: readonly string[],
  kind: ModelKind,
  modelRef: string,
): string[] {
  const fitting = candidates.filter(
    (ref) => (catalog.models[ref]?.embedding !== undefined) === (kind === 'embedding'),
  );
  if (fitting.length > 0) return fitting;
  if (kind === 'chat') {
    throw new InvalidRequestError(
      `The model '${modelRef}' is an embedding model; call POST /v1/embeddings with it`,
      [{ field: 'model', message: 'an embedding model cannot answer chat calls' }],
    );
  }
  throw new InvalidRequestError(
    `The model '${modelRef}' is not an embedding model; POST /v1/embeddings needs one`,
    [{ field: 'model', message: 'a chat model cannot embed' }],
  );
}

/** Whether an embedding model produces vectors of this length. */
function producesDimensions(catalog: ModelCatalog, modelRef: string, dimensions: number): boolean {
  const capability = catalog.models[modelRef]?.embedding;
  if (capability === undefined) return false;
  if (dimensions === capability.dimensions) return true;
  const allowed = capability.dimensions_allowed;
  if (allowed === 'any') return dimensions <= capability.dimensions;
  return allowed?.includes(dimensions) === true;
}

/**
 * The embedding targets that can answer with `dimensions` numbers per vector (all of them when the
 * call asks for none), checked against how many numbers the answer may hold: the call's inputs times
 * the longest vector any target may answer with.
 *
 * @throws InvalidRequestError naming `dimensions` when no target produces that length;
 * PayloadTooLargeError naming `input` when the answer would hold more than `maxValues` numbers.
 */
export function embeddingTargets(
  catalog: ModelCatalog,
  targets: readonly RouteTarget[],
  call: { modelRef: string; inputs: number; dimensions?: number; maxValues: number },
): RouteTarget[] {
  const { dimensions } = call;
  const fitting =
    dimensions === undefined
      ? [...targets]
      : targets.filter((target) => producesDimensions(catalog, target.modelRef, dimensions));
  if (fitting.length === 0) {
    const native = catalog.models[targets[0]?.modelRef ?? '']?.embedding;
    const allowed = native?.dimensions_allowed;
    throw new InvalidRequestError(
      `The model '${call.modelRef}' cannot produce ${dimensions}-dimension vectors`,
      [
        {
          field: 'dimensions',
          message:
            allowed === 'any'
              ? `at most ${native?.dimensions}`
              : `supported: ${[...new Set([native?.dimensions, ...(allowed ?? [])])].join(', ')}`,
        },
      ],
    );
  }
  const longest = Math.max(
    ...fitting.map((target) => dimensions ?? catalog.models[target.modelRef]?.embedding?.dimensions ?? 0),
  );
  if (call.inputs * longest > call.maxValues) {
    throw new PayloadTooLargeError(
      `The answer would hold ${call.inputs} vectors of ${longest} numbers; at most ${call.maxValues} numbers in all`,
      {
        details: {
          fields: [
            {
              field: 'input',
              message: `at most ${Math.floor(call.maxValues / longest)} inputs for this model`,
            },
          ],
        },
      },
    );
  }
  return fitting;
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
      ...(model.embedding === undefined ? {} : { dimensions: model.embedding.dimensions }),
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
