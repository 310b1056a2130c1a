import type { HttpFront } from '../../cli/local/lambda-http-front.ts';
import { provisionTestNode } from './aws.ts';
import { importLambdaHandler, serveLambda } from './serve-lambda.ts';
import { createTestAuth } from './test-auth.ts';
import type { TestAuth } from './test-auth.ts';
import { tenantRegistrar, testTenantDirectory } from './test-tenants.ts';

/** A Model Policy API function served over real HTTP against the emulator, with its test issuer. */
export type ModelPolicyFront = { front: HttpFront; auth: TestAuth };

/**
 * Provisions a fresh table in the emulator and serves the Model Policy API handler on it, so a test
 * drives the gateway with unchanged HTTP clients. `env` adds settings (a model catalog, …); the
 * policy cache is off so a policy written in a test applies at once.
 */
export async function serveModelPolicy(
  prefix: string,
  env: Record<string, string> = {},
): Promise<ModelPolicyFront> {
  const { resources } = await provisionTestNode(prefix);
  const auth = await createTestAuth(`https://agentos.test/${resources.tableName}`, undefined, {
    registerTenant: tenantRegistrar(testTenantDirectory(resources.tableName)),
  });
  Object.assign(process.env, auth.env(), {
    AGENTOS_TABLE_NAME: resources.tableName,
    AGENTOS_MODEL_POLICY_CACHE_MS: '0',
    ...env,
  });
  const handler = await importLambdaHandler(
    new URL('../../functions/model-policy/handlers/api.ts', import.meta.url).pathname,
  );
  return { front: await serveLambda({ handler }), auth };
}

/** The system prompt that makes the local `scripted` model play the given turns, one per call. */
export function scriptPrompt(...turns: unknown[]): string {
  return `agentos-script: ${JSON.stringify(turns)}`;
}
