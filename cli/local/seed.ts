import type { AuthContext } from '../../functions/shared/auth/auth-context.ts';
import type { AwsClientConfig } from '../../functions/shared/aws/client-config.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { DynamoAgentRegistry } from '../../functions/orchestrator/adapters/dynamodb/dynamo-agent-registry.ts';
import { AgentSpecSchema } from '../../functions/orchestrator/schemas/agent.ts';
import type { z } from 'zod';
import { ConflictError } from '../../functions/shared/errors/agentos-error.ts';
import { DynamoTenantDirectory } from '../../functions/shared/tenancy/adapters/dynamo-tenant-directory.ts';
import { TenantDirectoryConflictError } from '../../functions/shared/tenancy/tenant-directory-port.ts';
import type { TenantQuotas } from '../../functions/shared/tenancy/tenant-schemas.ts';

/** The tool the sample agent uses: a built-in, which every tenant has without registering it. */
export const sampleToolId = 'echo';

/** An agent to seed: its id and its spec as a client would send it (defaults apply). */
export type SeedAgent = { agent_id: string } & z.input<typeof AgentSpecSchema>;

/** The sample agent: the scriptable local model, the sample tool, a few steps. */
export const sampleAgent: SeedAgent = {
  agent_id: 'sample-agent',
  name: 'Sample agent',
  model_ref: 'local/scripted',
  instructions: 'You are the AgentOS sample agent. Use the echo tool when asked to.',
  tool_ids: ['echo'],
  max_steps: 8,
  max_tokens_per_step: 256,
  timeout_seconds: 900,
};

/** What seeding created. */
export type SeededTenant = { tenantId: string; adminPrincipal: string; agentId: string; toolId: string };

/**
 * Seeds a tenant's agent through the same adapter the Orchestrator uses, so the record is exactly
 * what the runtime reads (built-in tools serve every tenant without a record). The agent is
 * created, or replaced by a new version when a seed that did not finish already created it.
 */
export async function seedTenantCatalog(options: {
  aws: AwsClientConfig;
  tableName: string;
  tenantId: string;
  adminPrincipal: string;
  agent?: SeedAgent;
}): Promise<SeededTenant> {
  const db = createDocumentClient(options.aws);
  const auth: AuthContext = {
    tenant_id: options.tenantId,
    principal: { id: options.adminPrincipal, type: 'user' },
    scopes: [],
    policy_context: {},
  };
  const agent = options.agent ?? sampleAgent;
  try {
    const { agent_id: agentId, ...input } = agent;
    const spec = AgentSpecSchema.parse(input);
    const agents = new DynamoAgentRegistry(db, options.tableName);
    try {
      await agents.create(auth, agentId, spec);
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      await agents.update(auth, agentId, spec);
    }
  } finally {
    db.destroy();
  }
  return {
    tenantId: options.tenantId,
    adminPrincipal: options.adminPrincipal,
    agentId: agent.agent_id,
    toolId: sampleToolId,
  };
}

/**
 * Registers tenants on a node (HLD §5.2: a token of an unregistered tenant is refused), leaving a
 * tenant that is already registered as its operators left it. Returns the tenants it registered.
 */
export async function registerTenants(options: {
  aws: AwsClientConfig;
  tableName: string;
  tenantIds: readonly string[];
  /** Who registers them, for the records' `updated_by`. */
  by: string;
  quotas?: Partial<TenantQuotas>;
}): Promise<string[]> {
  const db = createDocumentClient(options.aws);
  const directory = new DynamoTenantDirectory(db, options.tableName);
  const registered: string[] = [];
  try {
    for (const tenantId of new Set(options.tenantIds)) {
      try {
        await directory.createTenant(
          { tenant_id: tenantId, ...(options.quotas === undefined ? {} : { quotas: options.quotas }) },
          { by: options.by, at: new Date() },
        );
        registered.push(tenantId);
      } catch (error) {
        if (!(error instanceof TenantDirectoryConflictError && error.reason === 'exists')) throw error;
      }
    }
  } finally {
    db.destroy();
  }
  return registered;
}
