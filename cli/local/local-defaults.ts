import type { z } from 'zod';
import type { TenantModelPolicySchema } from '../../functions/model-policy/schemas/tenant-policy.ts';
import { maybeEnv } from '../../functions/shared/config/env.ts';

/**
 * Defaults of a local node: ports from a base (orchestrator, model policy, emulator), the seeded
 * tenant, and what the Model Policy starts with. Two nodes side by side differ by node id and port
 * base. (The issuer its tokens carry is its stack's: see cli/local/local-tokens.ts.)
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
    /** The operator's OTLP traces endpoint, which overrides `observability.otlp_traces_url`. */
    otlpTracesUrl: maybeEnv('AGENTOS_OTLP_TRACES_URL', env),
    tenantId: 'default',
    /** The platform tenant whose operator-scoped tokens may administer other tenants (the Model Policy's default). */
    operatorTenantId: 'operator',
    adminPrincipal: 'admin@default',
    /** The seeded tenant's model policy: local models only, input redaction, finite budgets. */
    tenantModelPolicy: {
      entitlements: { allow: ['local/*', 'tier:*'], deny: [] },
      max_tokens: 4096,
      default_max_tokens: 1024,
      redaction: { input: true, output: false },
      deny_rules: [],
      budgets: [
        { scope: 'tenant', period: 'month', limit_usd: 10, limit_tokens: 20_000_000 },
        { scope: 'tenant', period: 'day', limit_usd: 2, limit_tokens: 2_000_000 },
        { scope: 'run', period: 'total', limit_tokens: 200_000 },
      ],
    } satisfies z.input<typeof TenantModelPolicySchema>,
  };
}
