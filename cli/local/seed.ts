import type { AuthContext } from '../../functions/shared/auth/auth-context.ts';
import type { AwsClientConfig } from '../../functions/shared/aws/client-config.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { DynamoAgentRegistry } from '../../functions/orchestrator/adapters/dynamodb/dynamo-agent-registry.ts';
import { DynamoMemoryStore } from '../../functions/orchestrator/adapters/memory/dynamo-memory-store.ts';
import { RegisteredToolAdapter } from '../../functions/orchestrator/adapters/tools/registered-tools.ts';
import type { ToolRecord } from '../../functions/orchestrator/adapters/tools/registered-tools.ts';
import type { AgentDefinition } from '../../functions/orchestrator/ports/agent-registry-port.ts';
import { AgentDefinitionSchema } from '../../functions/orchestrator/schemas/agent.ts';

/** The sample tool every seeded tenant gets. */
export const sampleTool: ToolRecord = {
  tool_id: 'echo',
  description: 'Returns the given text unchanged.',
  implementation: 'builtin:echo',
};

/** The sample agent: the scriptable local model, the sample tool, a few steps. */
export const sampleAgent: AgentDefinition = AgentDefinitionSchema.parse({
  object: 'agent',
  agent_id: 'sample-agent',
  version: 1,
  name: 'Sample agent',
  model_ref: 'local/scripted',
  instructions: 'You are the AgentOS sample agent. Use the echo tool when asked to.',
  tool_ids: ['echo'],
  max_steps: 8,
  max_tokens_per_step: 256,
  timeout_seconds: 900,
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
});

/** What seeding created. */
export type SeededTenant = { tenantId: string; adminPrincipal: string; agentId: string; toolId: string };

/**
 * Seeds a tenant's agent and tool records through the same adapters the Orchestrator uses, so
 * the records are exactly what the runtime reads.
 */
export async function seedTenantCatalog(options: {
  aws: AwsClientConfig;
  tableName: string;
  tenantId: string;
  adminPrincipal: string;
  agent?: AgentDefinition;
  tools?: ToolRecord[];
}): Promise<SeededTenant> {
  const db = createDocumentClient(options.aws);
  const auth: AuthContext = {
    tenant_id: options.tenantId,
    principal: { id: options.adminPrincipal, type: 'user' },
    scopes: [],
    policy_context: {},
  };
  const agent = options.agent ?? sampleAgent;
  const tools = options.tools ?? [sampleTool];
  try {
    const registry = new RegisteredToolAdapter(
      db,
      options.tableName,
      new DynamoMemoryStore(db, options.tableName),
    );
    for (const tool of tools) await registry.register(auth, tool);
    await new DynamoAgentRegistry(db, options.tableName).put(auth, agent);
  } finally {
    db.destroy();
  }
  return {
    tenantId: options.tenantId,
    adminPrincipal: options.adminPrincipal,
    agentId: agent.agent_id,
    toolId: tools[0]?.tool_id ?? '',
  };
}
