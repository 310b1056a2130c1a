import { afterAll } from 'vitest';
import { InMemoryMemoryStore } from '../../functions/orchestrator/adapters/in-memory/in-memory-memory-store.ts';
import { InMemoryToolRegistry } from '../../functions/orchestrator/adapters/in-memory/in-memory-tool-registry.ts';
import { InMemoryToolSecrets } from '../../functions/orchestrator/adapters/in-memory/in-memory-tools.ts';
import { ToolCatalog } from '../../functions/orchestrator/adapters/tools/tool-catalog.ts';
import { AllowedHosts } from '../../functions/shared/net/address-policy.ts';
import { createSafeFetch } from '../../functions/shared/net/safe-fetch.ts';
import { httpToolSpec, toolPortConformance } from '../conformance/tool-port.case.ts';
import { startToolTestServer } from '../support/tool-test-doubles.ts';

const server = await startToolTestServer();
afterAll(() => server.close());

toolPortConformance('tool catalog on in-memory adapters', async () => {
  const registry = new InMemoryToolRegistry();
  const secrets = new InMemoryToolSecrets();
  const port = new ToolCatalog({
    registry,
    memory: new InMemoryMemoryStore(),
    fetch: createSafeFetch({ allowedHosts: new AllowedHosts([`127.0.0.1:${server.port}`]) }),
    secrets,
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
    setSecret: async (tenantId, secret, value) => secrets.set(tenantId, secret, value),
  };
});
