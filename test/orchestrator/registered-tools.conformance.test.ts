import { DynamoMemoryStore } from '../../functions/orchestrator/adapters/memory/dynamo-memory-store.ts';
import { RegisteredToolAdapter } from '../../functions/orchestrator/adapters/tools/registered-tools.ts';
import { builtinTools } from '../../functions/orchestrator/adapters/tools/builtin-tools.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { toolPortConformance } from '../conformance/tool-port.case.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';

const table = provisionTestNode('tools').then(({ resources }) => resources.tableName);
toolPortConformance('registered built-in tools on DynamoDB', async () => {
  const db = createDocumentClient(testAwsConfig());
  const port = new RegisteredToolAdapter(db, await table, new DynamoMemoryStore(db, await table));
  const grant = async (tenantId: string, toolIds: string[]) => {
    const auth = {
      tenant_id: tenantId,
      principal: { id: 'admin', type: 'user' as const },
      scopes: [],
      policy_context: {},
    };
    for (const id of toolIds)
      await port.register(auth, {
        tool_id: id,
        description: builtinTools[id]?.description ?? id,
        implementation: `builtin:${id}`,
      });
  };
  return { port, grant };
});
