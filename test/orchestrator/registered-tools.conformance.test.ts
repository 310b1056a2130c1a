import { DynamoMemoryStore } from '../../functions/orchestrator/adapters/memory/dynamo-memory-store.ts';
import { RegisteredToolAdapter } from '../../functions/orchestrator/adapters/tools/registered-tools.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { grantBuiltins, toolPortConformance } from '../conformance/tool-port.case.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';

const table = provisionTestNode('tools').then(({ resources }) => resources.tableName);
toolPortConformance('registered built-in tools on DynamoDB', async () => {
  const db = createDocumentClient(testAwsConfig());
  const port = new RegisteredToolAdapter(db, await table, new DynamoMemoryStore(db, await table));
  return { port, grant: grantBuiltins((auth, tool) => port.register(auth, tool)) };
});
