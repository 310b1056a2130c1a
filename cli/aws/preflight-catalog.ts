import { readFile } from 'node:fs/promises';
import { ModelCatalogSchema } from '../../functions/model-policy/schemas/model-catalog.ts';
import type { ModelCatalog } from '../../functions/model-policy/schemas/model-catalog.ts';
import { failed, ok } from './preflight-check.ts';
import type { Verdict } from './preflight-check.ts';

/** The node configuration's model catalog as preflight read it: its verdict, and the catalog when valid. */
export type CatalogFindings = { verdict: Verdict; file?: string; catalog?: ModelCatalog };

/** How many of a catalog's issues a detail lists before it says how many more there are. */
const issuesShown = 3;

/**
 * Reads and validates the catalog the node will ship (config.model_catalog, an absolute path). Each
 * issue names the field at fault, so the fix is an edit of that field.
 */
export async function readCatalog(file: string | undefined): Promise<CatalogFindings> {
  if (file === undefined) return { verdict: ok('none configured: the node serves the local models only') };
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    return {
      file,
      verdict: failed(
        `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
        'set "model_catalog" in the node configuration to an existing file (relative to the configuration)',
      ),
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return {
      file,
      verdict: failed(
        `${file} is not valid JSON: ${(error as Error).message}`,
        `correct the JSON of ${file}`,
      ),
    };
  }
  const parsed = ModelCatalogSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({
      field: issue.path.length === 0 ? '(the whole file)' : issue.path.join('.'),
      message: issue.message,
    }));
    const listed = issues
      .slice(0, issuesShown)
      .map((issue) => `${issue.field}: ${issue.message}`)
      .join('; ');
    const more = issues.length > issuesShown ? ` (and ${issues.length - issuesShown} more)` : '';
    return {
      file,
      verdict: failed(
        `${file} is invalid at ${listed}${more}`,
        `correct ${issues.map((issue) => issue.field).join(', ')} in ${file}`,
      ),
    };
  }
  const catalog = parsed.data;
  const models = Object.values(catalog.models);
  const onBedrock = models.filter((model) => catalog.backends[model.backend]?.kind === 'bedrock').length;
  return { file, catalog, verdict: ok(`${models.length} models (${onBedrock} on Bedrock) in ${file}`) };
}

/** A catalog model served by Bedrock, with what checking its access needs. */
export type BedrockModelEntry = {
  /** The catalog's model ref, e.g. `bedrock/claude-haiku`. */
  ref: string;
  backendId: string;
  /** The Bedrock model id (or inference profile id, or ARN) the backend calls. */
  modelId: string;
  region: string;
  /** The backend calls Bedrock with credentials of its own, not the function's role. */
  ownCredentials: boolean;
};

/** The catalog's models that Bedrock serves. */
export function bedrockModels(catalog: ModelCatalog): BedrockModelEntry[] {
  return Object.entries(catalog.models).flatMap(([ref, model]) => {
    const backend = catalog.backends[model.backend];
    return backend?.kind === 'bedrock'
      ? [
          {
            ref,
            backendId: model.backend,
            modelId: model.model,
            region: backend.region,
            ownCredentials: backend.credentials !== undefined,
          },
        ]
      : [];
  });
}

/** The Secrets Manager secrets (names or ARNs, without `#field`) the catalog's credential references read. */
export function catalogSecretReferences(catalog: ModelCatalog): { secret: string; field: string }[] {
  return Object.entries(catalog.backends).flatMap(([id, backend]) => {
    const ref =
      backend.kind === 'openai'
        ? { value: backend.api_key, field: `backends.${id}.api_key` }
        : backend.kind === 'bedrock'
          ? { value: backend.credentials, field: `backends.${id}.credentials` }
          : undefined;
    if (ref?.value === undefined || !ref.value.startsWith('secretsmanager:')) return [];
    const secret = ref.value.slice('secretsmanager:'.length).split('#')[0]!;
    return [{ secret, field: ref.field }];
  });
}
