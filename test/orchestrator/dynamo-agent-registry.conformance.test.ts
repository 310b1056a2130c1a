import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoAgentRegistry } from '../../functions/orchestrator/adapters/dynamodb/dynamo-agent-registry.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { recordSortKey, storageKeys } from '../../functions/shared/storage/keys.ts';
import { agentRegistryPortConformance, agentSpec } from '../conformance/agent-registry-port.case.ts';
import { agentDefinition } from '../support/agent-definitions.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';

const table = provisionTestNode('agents').then(({ resources }) => resources.tableName);
agentRegistryPortConformance(
  'DynamoDB',
  async () => new DynamoAgentRegistry(createDocumentClient(testAwsConfig()), await table),
);

describe('DynamoAgentRegistry with agents seeded by older nodes', () => {
  const auth = {
    tenant_id: 'legacy',
    principal: { id: 'admin', type: 'user' as const },
    scopes: [],
    policy_context: {},
  };

  it('reads an agent stored with system_prompt and no version as version 1 with instructions', async () => {
    const db = createDocumentClient(testAwsConfig());
    const registry = new DynamoAgentRegistry(db, await table);
    // What `seed` stored before versions existed.
    await db.send(
      new PutCommand({
        TableName: await table,
        Item: {
          pk: storageKeys.agent('legacy', 'sample-agent'),
          sk: recordSortKey,
          kind: 'agent',
          agent_id: 'sample-agent',
          name: 'Sample agent',
          model_ref: 'local/scripted',
          system_prompt: 'You are the AgentOS sample agent.',
          tool_ids: ['echo'],
          max_steps: 8,
          max_tokens_per_step: 256,
          timeout_seconds: 900,
        },
      }),
    );
    const agent = await registry.get(auth, 'sample-agent');
    expect(agent).toMatchObject({
      agent_id: 'sample-agent',
      version: 1,
      instructions: 'You are the AgentOS sample agent.',
      max_steps: 8,
    });
    expect(agent).not.toHaveProperty('system_prompt');
    expect(await registry.getVersion(auth, 'sample-agent', 1)).toEqual(agent);

    const second = await registry.update(auth, 'sample-agent', agentSpec({ name: 'Sample v2' }), 1);
    expect(second.version).toBe(2);
    expect(await registry.getVersion(auth, 'sample-agent', 1)).toEqual(agent);
    expect((await registry.list(auth, { limit: 10 })).agents.map((a) => a.agent_id)).toEqual([
      'sample-agent',
    ]);
    const stored = await db.send(
      new GetCommand({
        TableName: await table,
        Key: { pk: storageKeys.agent('legacy', 'sample-agent'), sk: 1 },
      }),
    );
    expect(stored.Item).toMatchObject({ instructions: 'You are the AgentOS sample agent.', version: 1 });
  });
});

describe('DynamoAgentRegistry version cache', () => {
  const authOf = (tenant: string) => ({
    tenant_id: tenant,
    principal: { id: 'admin', type: 'user' as const },
    scopes: [],
    policy_context: {},
  });

  /** A registry over a client that counts its requests. */
  async function counted() {
    const db = createDocumentClient(testAwsConfig());
    let requests = 0;
    const send = db.send.bind(db) as (command: unknown) => Promise<unknown>;
    const counting = Object.assign(Object.create(db) as typeof db, {
      send: (command: unknown) => {
        requests += 1;
        return send(command);
      },
    });
    return { registry: new DynamoAgentRegistry(counting, await table), requests: () => requests };
  }

  it("returns a version read once from the cache, and never another tenant's version", async () => {
    const { registry, requests } = await counted();
    const owner = authOf(`t${crypto.randomUUID().slice(0, 8)}`);
    const other = authOf(`t${crypto.randomUUID().slice(0, 8)}`);
    const agent = agentDefinition({ agent_id: 'cached', model_ref: 'local/scripted', name: 'One' });
    await registry.put(owner, agent);
    expect(await registry.getVersion(owner, 'cached', 1)).toEqual(agent);
    const afterRead = requests();
    expect(await registry.getVersion(owner, 'cached', 1)).toEqual(agent);
    expect(requests()).toBe(afterRead);
    expect(await registry.getVersion(other, 'cached', 1)).toBeUndefined();
  });

  it('returns the version as put() last wrote it, not as it was cached', async () => {
    const { registry } = await counted();
    const auth = authOf(`t${crypto.randomUUID().slice(0, 8)}`);
    const first = agentDefinition({ agent_id: 'rewritten', model_ref: 'local/scripted', name: 'First' });
    await registry.put(auth, first);
    expect(await registry.getVersion(auth, 'rewritten', 1)).toMatchObject({ name: 'First' });
    await registry.put(auth, { ...first, name: 'Second' });
    expect(await registry.getVersion(auth, 'rewritten', 1)).toMatchObject({ name: 'Second' });
  });
});
