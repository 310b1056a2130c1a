import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoPeerTokenReplay } from '../../functions/orchestrator/adapters/dynamodb/dynamo-peer-token-replay.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { hashedSortKey } from '../../functions/shared/storage/keys.ts';
import { tableDefinition } from '../../infra/resources/definitions.ts';
import { peerTokenReplayPortConformance } from '../conformance/peer-token-replay-port.case.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';

const table = provisionTestNode('replay').then(({ resources }) => resources.tableName);
peerTokenReplayPortConformance(
  'DynamoDB',
  async (clock) =>
    new DynamoPeerTokenReplay(createDocumentClient(testAwsConfig()), await table, { now: clock.now }),
);

describe('DynamoPeerTokenReplay items', () => {
  it('returns claimed ids kept under the peer’s node-level key, expiring with their token', async () => {
    const db = createDocumentClient(testAwsConfig());
    const replay = new DynamoPeerTokenReplay(db, await table);
    const jti = crypto.randomUUID();
    const expires = new Date(Math.floor(Date.now() / 1000) * 1000 + 120_000);
    await replay.claim('west-1', jti, expires);
    const item = (
      await db.send(
        new GetCommand({
          TableName: await table,
          Key: { pk: 'platform/peer-token-ids/west-1', sk: hashedSortKey(jti) },
        }),
      )
    ).Item;
    expect(item).toMatchObject({ jti, [tableDefinition.timeToLiveAttribute]: expires.getTime() / 1000 });
  });
});
