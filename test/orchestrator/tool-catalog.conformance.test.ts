import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll } from 'vitest';
import { DynamoToolRegistry } from '../../functions/orchestrator/adapters/dynamodb/dynamo-tool-registry.ts';
import { DynamoMemoryStore } from '../../functions/orchestrator/adapters/memory/dynamo-memory-store.ts';
import { ToolCatalog } from '../../functions/orchestrator/adapters/tools/tool-catalog.ts';
import { SecretsManagerToolSecrets } from '../../functions/orchestrator/adapters/tools/tool-secrets.ts';
import { AllowedHosts } from '../../functions/shared/net/address-policy.ts';
import { createSafeFetch } from '../../functions/shared/net/safe-fetch.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { httpToolSpec, toolPortConformance } from '../conformance/tool-port.case.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';
import { startToolTestServer } from '../support/tool-test-doubles.ts';

const node = provisionTestNode('tools');
const server = await startToolTestServer();
const secretsClient = new SecretsManagerClient(testAwsConfig());
const db = createDocumentClient(testAwsConfig());
afterAll(async () => {
  await server.close();
  secretsClient.destroy();
  db.destroy();
});

/**
 * Over the wire: the tenants' tools and memory on DynamoDB and credentials in Secrets Manager (moto),
 * HTTP tools on a local server.
 */
toolPortConformance('tool catalog on DynamoDB, Secrets Manager and a local HTTP server', async () => {
  const { nodeId, resources } = await node;
  const prefix = `agentos/${nodeId}/tools`;
  const registry = new DynamoToolRegistry(db, resources.tableName);
  const port = new ToolCatalog({
    registry,
    memory: new DynamoMemoryStore(db, resources.tableName),
    fetch: createSafeFetch({ allowedHosts: new AllowedHosts([`127.0.0.1:${server.port}`]) }),
    secrets: new SecretsManagerToolSecrets(secretsClient, { prefix }),
  });
  return {
    port,
    server,
    addHttpTool: async (tenantId, toolId, spec) => {
      await registry.create(
        { tenant_id: tenantId, principal: { id: 'admin', type: 'user' }, scopes: [], policy_context: {} },
        toolId,
        httpToolSpec(spec),
      );
    },
    setSecret: async (tenantId, secret, value) => {
      await secretsClient.send(
        new CreateSecretCommand({ Name: `${prefix}/${tenantId}/${secret}`, SecretString: value }),
      );
    },
  };
});
