import { AgentOsClient } from '../../cli/client/agentos-client.ts';
import { startLocalNode } from '../../cli/local/local-node.ts';
import type { LocalNode } from '../../cli/local/local-node.ts';
import { seedTenantCatalog } from '../../cli/local/seed.ts';
import { scopes } from '../../functions/shared/auth/auth-context.ts';
import type { AgentDefinition } from '../../functions/orchestrator/ports/agent-registry-port.ts';
import type { ProvisionedResources } from '../../infra/local/provision-emulator.ts';
import { provisionTestNode, testAwsConfig } from './aws.ts';
import { createTestAuth } from './test-auth.ts';
import type { TestAuth } from './test-auth.ts';
import { tenantRegistrar, testTenantDirectory } from './test-tenants.ts';

/** A local node running in this test process against the emulator. */
export type TestNode = {
  node: LocalNode;
  nodeId: string;
  resources: ProvisionedResources;
  auth: TestAuth;
  /** Registers a tenant and seeds an agent (and the sample tool) for it. */
  seed(tenantId: string, agent?: Partial<AgentDefinition>): Promise<void>;
  stop(): Promise<void>;
};

/**
 * Provisions a fresh node in the emulator and starts its handlers in this process. One per test file:
 * handlers read their environment once, at import.
 */
export async function startTestNode(
  options: { functionEnv?: Record<string, string>; dashboardPeriodMs?: number } = {},
): Promise<TestNode> {
  const { nodeId, resources } = await provisionTestNode('node');
  const auth = await createTestAuth(`https://agentos.test/${nodeId}`, undefined, {
    registerTenant: tenantRegistrar(testTenantDirectory(resources.tableName)),
  });
  const aws = testAwsConfig();
  const node = await startLocalNode({
    nodeId,
    host: '127.0.0.1',
    orchestratorPort: 0,
    modelPolicyPort: 0,
    awsEndpoint: aws.endpoint ?? '',
    region: aws.region,
    resources,
    jwt: {
      issuer: auth.issuer,
      audience: auth.audience,
      jwks: auth.jwks,
      serviceSigningKey: auth.signingKey,
    },
    functionEnv: {
      POWERTOOLS_LOG_LEVEL: process.env['AGENTOS_TEST_LOG_LEVEL'] ?? 'SILENT',
      AGENTOS_SSE_POLL_MAX_MS: '200',
      ...options.functionEnv,
    },
    ...(options.dashboardPeriodMs === undefined ? {} : { dashboardPeriodMs: options.dashboardPeriodMs }),
  });
  return {
    node,
    nodeId,
    resources,
    auth,
    async seed(tenantId, agent = {}) {
      const { sampleAgent } = await import('../../cli/local/seed.ts');
      await auth.registerTenant(tenantId);
      await seedTenantCatalog({
        aws,
        tableName: resources.tableName,
        tenantId,
        adminPrincipal: `admin-${tenantId}`,
        agent: { ...sampleAgent, ...agent },
      });
    },
    stop: () => node.stop(),
  };
}

/** Registers the operator tenant on `node` and returns a client holding an operator token for it. */
export async function operatorClient(node: TestNode): Promise<AgentOsClient> {
  await node.auth.registerTenant('operator');
  return new AgentOsClient(
    node.node.orchestratorUrl,
    await node.auth.token('operator', { scopes: [scopes.operator] }),
  );
}
