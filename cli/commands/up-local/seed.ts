import { registerTenants, seedTenantCatalog } from '../../local/seed.ts';
import { writeLocalState } from '../../local/local-state.ts';
import type { BootedNode, UpContext } from './up-context.ts';

/**
 * Seed: the default tenant, its admin, the sample agent and tool, and the tenant's model policy
 * (set through the Model Policy's admin API with an operator token). Only for a node built afresh:
 * a resumed node keeps what its operators changed since.
 */
export async function seed(
  context: UpContext,
  booted: BootedNode,
  operatorToken: string,
  note: (detail: string) => void,
): Promise<void> {
  const { defaults, report } = context;
  const seeded = await seedTenantCatalog({
    aws: booted.aws,
    tableName: booted.state.resources.table,
    tenantId: defaults.tenantId,
    adminPrincipal: defaults.adminPrincipal,
  });
  const policy = await fetch(
    `${booted.state.node.model_policy_url}/v1/admin/tenants/${defaults.tenantId}/model-policy`,
    {
      method: 'PUT',
      headers: { authorization: `Bearer ${operatorToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(defaults.tenantModelPolicy),
    },
  );
  if (!policy.ok)
    throw new Error(`setting the tenant's model policy answered ${policy.status}: ${await policy.text()}`);
  report.seeded = {
    tenant: seeded.tenantId,
    tenant_admin: seeded.adminPrincipal,
    sample_agent: seeded.agentId,
    sample_tool: seeded.toolId,
  };
  await writeLocalState({ ...booted.state, seeded: report.seeded });
  note(
    `tenant ${seeded.tenantId}, admin ${seeded.adminPrincipal}, agent ${seeded.agentId}, tool ${seeded.toolId}`,
  );
}

/**
 * Registers the seeded tenant and the operator tenant (idempotent: tenants already registered are
 * left as their operators left them), so the node admits the tokens `up` and its users mint.
 */
export async function registerNodeTenants(context: UpContext, booted: BootedNode): Promise<void> {
  const { defaults, report } = context;
  const registered = await registerTenants({
    aws: booted.aws,
    tableName: booted.state.resources.table,
    tenantIds: [defaults.tenantId, defaults.operatorTenantId],
    by: 'agentos up',
  });
  if (registered.length > 0) report.notes.push(`Registered tenants: ${registered.join(', ')}`);
}
