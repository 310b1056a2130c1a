import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoPeerRegistry } from '../../functions/orchestrator/adapters/dynamodb/dynamo-peer-registry.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { hashedSortKey } from '../../functions/shared/storage/keys.ts';
import { peerRegistryPortConformance } from '../conformance/peer-registry-port.case.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';

const table = provisionTestNode('peers').then(({ resources }) => resources.tableName);
peerRegistryPortConformance(
  'DynamoDB',
  async () => new DynamoPeerRegistry(createDocumentClient(testAwsConfig()), await table),
);

describe('DynamoPeerRegistry items', () => {
  it('returns peers kept under the node-level key, outside every tenant', async () => {
    const db = createDocumentClient(testAwsConfig());
    const registry = new DynamoPeerRegistry(db, await table);
    const peerId = `p${crypto.randomUUID().slice(0, 8)}`;
    await registry.add(
      {
        peer_id: peerId,
        base_url: 'https://a.example.com',
        jwks_url: 'https://a.example.com/jwks',
        tenants: [],
      },
      { by: 'ops', at: new Date() },
    );
    const item = (
      await db.send(
        new GetCommand({ TableName: await table, Key: { pk: 'platform/peers', sk: hashedSortKey(peerId) } }),
      )
    ).Item;
    expect(item).toMatchObject({ kind: 'peer', peer_id: peerId });
  });
});
