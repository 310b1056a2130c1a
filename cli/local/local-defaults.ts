import { maybeEnv } from '../../functions/shared/config/env.ts';

/**
 * Defaults of a local node: ports from a base (orchestrator, model policy, emulator), its token
 * issuer, the seeded tenant, and what the Model Policy starts with. Two nodes side by side differ by
 * node id and port base.
 */
export function localNodeDefaults(nodeId: string, portBase: number, env: NodeJS.ProcessEnv = process.env) {
  const external = maybeEnv('AGENTOS_AWS_ENDPOINT', env) ?? maybeEnv('AWS_ENDPOINT_URL', env);
  return {
    orchestratorPort: portBase,
    modelPolicyPort: portBase + 1,
    emulatorPort: portBase + 2,
    externalEmulator: external !== undefined,
    emulatorEndpoint: external ?? `http://127.0.0.1:${portBase + 2}`,
    region: maybeEnv('AWS_REGION', env) ?? 'us-east-1',
    issuer: `https://agentos.local/${nodeId}`,
    audience: 'agentos',
    tenantId: 'default',
    adminPrincipal: 'admin@default',
    functionEnv: {} as Record<string, string>,
    /** The seeded tenant's model policy: local models only, finite budgets. */
    tenantModelPolicy: {} as Record<string, unknown>,
  };
}
