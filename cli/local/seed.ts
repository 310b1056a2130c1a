import type { AuthContext } from '../../functions/shared/auth/auth-context.ts';
import type { AwsClientConfig } from '../../functions/shared/aws/client-config.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { DynamoAgentRegistry } from '../../functions/orchestrator/adapters/dynamodb/dynamo-agent-registry.ts';
import type { AgentDefinition } from '../../functions/orchestrator/ports/agent-registry-port.ts';

/** The tool the sample agent uses: a built-in, which every tenant has without registering it. */
export const sampleToolId = 'echo';

/** The sample agent: the scriptable local model, the sample tool, a few steps. */
export const sampleAgent: AgentDefinition = {
  agent_id: 'sample-agent',
  name: 'Sample agent',
  model_ref: 'local/scripted',
  system_prompt: 'You are the AgentOS sample agent. Use the echo tool when asked to.',
  tool_ids: ['echo'],
  max_steps: 8,
  max_tokens_per_step: 256,
  timeout_seconds: 900,
};

/** What seeding created. */
export type SeededTenant = { tenantId: string; adminPrincipal: string; agentId: string; toolId: string };

/**
 * Seeds a tenant's agent record through the same adapters the Orchestrator uses, so
 * the records are exactly what the runtime reads.
 */
export async function seedTenantCatalog(options: {
  aws: AwsClientConfig;
  tableName: string;
  tenantId: string;
  adminPrincipal: string;
  agent?: AgentDefinition;
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
    await new DynamoAgentRegistry(db, options.tableName).put(auth, agent);
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
