import { NotFoundError } from '../../shared/errors/agentos-error.ts';
import type { RouteHandler } from '../../shared/http/bound-route.ts';
import { entitledRefs } from '../policy/entitlements.ts';
import type { TenantPolicySource } from '../policy/tenant-policy-source.ts';
import { candidatesFor, catalogRefs } from '../router/route-plan.ts';
import type { ModelCatalog } from '../schemas/model-catalog.ts';
import type { ModelList, ModelObject } from '../schemas/openai-chat.ts';
import type { TenantModelPolicy } from '../schemas/tenant-policy.ts';
import type { getModel, listModels } from './model-policy-api.ts';

function modelObject(catalog: ModelCatalog, ref: string): ModelObject {
  const base = { id: ref, object: 'model' as const, created: 0 };
  const model = catalog.models[ref];
  if (ref.startsWith('tier:')) return { ...base, owned_by: 'agentos:tier', agentos: { kind: 'tier' } };
  if (model === undefined) return { ...base, owned_by: 'agentos:unknown' };
  const agentos: NonNullable<ModelObject['agentos']> =
    model.embedding === undefined
      ? { kind: 'chat', tools: model.tools, vision: model.vision }
      : { kind: 'embedding', dimensions: model.embedding.dimensions };
  return { ...base, owned_by: `agentos:${model.backend}`, agentos };
}

/** The catalog's models, and its tiers with their members. */
function catalogChoices(catalog: ModelCatalog) {
  const { models, tiers } = catalogRefs(catalog);
  return { models, tiers: tiers.map((ref) => ({ ref, members: candidatesFor(catalog, ref) })) };
}

/** `GET /v1/models` and `GET /v1/models/{model_ref}` (scope `models:read`), in OpenAI's shapes. */
export function modelsHandlers(
  catalog: ModelCatalog,
  policies: TenantPolicySource,
): { listModels: RouteHandler<typeof listModels>; getModel: RouteHandler<typeof getModel> } {
  // Built on first use: the catalog does not change while the process lives.
  let choices: ReturnType<typeof catalogChoices> | undefined;
  const entitled = (policy: TenantModelPolicy): string[] =>
    entitledRefs(policy.entitlements, (choices ??= catalogChoices(catalog)));
  return {
    async listModels({ auth }) {
      const { policy } = await policies.forTenant(auth.tenant_id);
      const list: ModelList = {
        object: 'list',
        data: entitled(policy).map((ref) => modelObject(catalog, ref)),
      };
      return { status: 200, json: list };
    },
    async getModel({ auth, params }) {
      const ref = params.model_ref;
      const { policy } = await policies.forTenant(auth.tenant_id);
      // A model the tenant may not use is, to it, a model that does not exist.
      if (!entitled(policy).includes(ref)) throw new NotFoundError(`The model '${ref}' does not exist`);
      return { status: 200, json: modelObject(catalog, ref) };
    },
  };
}
