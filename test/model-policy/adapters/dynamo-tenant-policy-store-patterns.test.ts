import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoTenantPolicyStore } from '../../../functions/model-policy/adapters/dynamodb/dynamo-tenant-policy-store.ts';
import { defaultTenantPolicy } from '../../../functions/model-policy/composition/default-policy.ts';
import { createDocumentClient } from '../../../functions/shared/storage/dynamo-client.ts';
import { recordSortKey, storageKeys } from '../../../functions/shared/storage/keys.ts';
import { provisionTestNode, testAwsConfig } from '../../support/aws.ts';

const table = provisionTestNode('policy-re2').then(({ resources }) => resources.tableName);

// A fresh module: RE2 is not loaded in this file until a policy holding a content pattern needs it,
// as in a Model Policy instance that reads a policy another instance saved.
describe('DynamoDB tenant policy store, read where RE2 was never loaded', () => {
  it('returns a stored policy holding deny-rule content patterns, validated', async () => {
    const db = createDocumentClient(testAwsConfig());
    const tableName = await table;
    const tenant = `t${crypto.randomUUID().slice(0, 8)}`;
    const policy = {
      ...defaultTenantPolicy,
      deny_rules: [{ id: 'no-secrets', reason: 'no secrets', content: ['secret-[0-9]+'] }],
    };
    await db.send(
      new PutCommand({
        TableName: tableName,
        Item: {
          pk: storageKeys.modelPolicy(tenant),
          sk: recordSortKey,
          kind: 'model-policy',
          tenant_id: tenant,
          policy,
          version: 1,
          updated_at: '2026-12-05T00:00:00.000Z',
          updated_by: 'operator',
        },
      }),
    );
    const stored = await new DynamoTenantPolicyStore(db, tableName).get(tenant);
    expect(stored?.policy.deny_rules).toEqual(policy.deny_rules);
    expect(stored?.version).toBe(1);
  });
});
