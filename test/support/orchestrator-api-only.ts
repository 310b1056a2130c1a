import { freePort } from '../../cli/local/emulator.ts';
import { startHttpFront } from '../../cli/local/lambda-http-front.ts';
import type { HttpFront } from '../../cli/local/lambda-http-front.ts';
import { seedTenantCatalog, sampleAgent } from '../../cli/local/seed.ts';
import type { AgentDefinition } from '../../functions/orchestrator/ports/agent-registry-port.ts';
import type { ProvisionedResources } from '../../infra/local/provision-emulator.ts';
import { apiRoutes, functionDefinitions } from '../../infra/resources/definitions.ts';
import { orchestratorHttpEnv } from '../../functions/orchestrator/composition/orchestrator-config.ts';
import { provisionTestNode, testAwsConfig } from './aws.ts';
import { importLambdaHandler } from './serve-lambda.ts';
import { createTestAuth } from './test-auth.ts';
import type { TestAuth } from './test-auth.ts';
import { tenantRegistrar, testTenantDirectory } from './test-tenants.ts';

/**
 * The Orchestrator's two HTTP functions (API and events) behind a local API Gateway front, against a
 * fresh emulator node, with no worker polling: runs stay queued, which is what API tests want.
 */
export async function startOrchestratorApi(
  extraEnv: Partial<Record<keyof typeof orchestratorHttpEnv.variables, string>> = {},
): Promise<{
  url: string;
  auth: TestAuth;
  resources: ProvisionedResources;
  seed(tenantId: string, agent?: Partial<AgentDefinition>): Promise<void>;
  close(): Promise<void>;
}> {
  const { nodeId, resources } = await provisionTestNode('api');
  // Chosen first, so the functions know their public URL (runs' events URLs are absolute).
  const port = await freePort();
  const auth = await createTestAuth(`https://agentos.test/${nodeId}`, undefined, {
    registerTenant: tenantRegistrar(testTenantDirectory(resources.tableName)),
  });
  Object.assign(
    process.env,
    auth.env(),
    orchestratorHttpEnv.render({
      AGENTOS_TABLE_NAME: resources.tableName,
      AGENTOS_STEP_QUEUE_URL: resources.stepQueueUrl,
      AGENTOS_DEADLINE_QUEUE_URL: resources.deadlineQueueUrl,
      AGENTOS_STATE_MACHINE_ARN: resources.stateMachineArn,
      AGENTOS_LONG_RUN_STATE_MACHINE_ARN: resources.longRunStateMachineArn,
      AGENTOS_PUBLIC_API_URL: `http://127.0.0.1:${port}`,
    }),
    extraEnv,
  );
  const root = new URL('../../', import.meta.url).pathname;
  const handlers = {
    orchestratorApi: await importLambdaHandler(`${root}${functionDefinitions.orchestratorApi.entry}`),
    orchestratorEvents: await importLambdaHandler(`${root}${functionDefinitions.orchestratorEvents.entry}`),
  };
  const front: HttpFront = await startHttpFront({
    port,
    routes: apiRoutes.orchestrator.map((route) => ({
      resource: route.resource,
      method: route.method,
      functionName: route.function,
      timeoutSeconds: 30,
      handler: handlers[route.function],
    })),
  });
  return {
    url: front.url,
    auth,
    resources,
    seed: async (tenantId, agent = {}) => {
      await auth.registerTenant(tenantId);
      await seedTenantCatalog({
        aws: testAwsConfig(),
        tableName: resources.tableName,
        tenantId,
        adminPrincipal: `admin-${tenantId}`,
        agent: { ...sampleAgent, ...agent },
      });
    },
    close: () => front.close(),
  };
}
