import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoTenantDirectory } from '../../functions/shared/tenancy/adapters/dynamo-tenant-directory.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { hashedSortKey, storageKeys } from '../../functions/shared/storage/keys.ts';
import { tenantDirectoryPortConformance } from '../conformance/tenant-directory-port.case.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';
import { tableDefinition } from '../../infra/resources/definitions.ts';

const table = provisionTestNode('tenants').then(({ resources }) => resources.tableName);
tenantDirectoryPortConformance(
  'DynamoDB',
  async () => new DynamoTenantDirectory(createDocumentClient(testAwsConfig()), await table),
);

describe('DynamoTenantDirectory items', () => {
  it('returns issued-token items carrying the table TTL at the token expiry, before and after revocation', async () => {
    const db = createDocumentClient(testAwsConfig());
    const directory = new DynamoTenantDirectory(db, await table);
    const tenantId = `t${crypto.randomUUID().slice(0, 8)}`;
    await directory.createTenant({ tenant_id: tenantId }, { by: 'ops', at: new Date() });
    const expiresAt = new Date(Math.floor(Date.now() / 1000) * 1000 + 600_000);
    const token = {
      object: 'token' as const,
      token_id: 'jti-ttl',
      tenant_id: tenantId,
      principal_id: 'alice',
      scopes: ['runs:read'],
      issued_at: new Date().toISOString(),
      expires_at: expiresAt.toISOString(),
      revoked_at: null,
      issued_by: 'root',
    };
    await directory.recordToken(token);
    const ttlOf = async () =>
      (
        await db.send(
          new GetCommand({
            TableName: await table,
            Key: { pk: storageKeys.issuedTokens(tenantId), sk: hashedSortKey('jti-ttl') },
          }),
        )
      ).Item?.[tableDefinition.timeToLiveAttribute];
    expect(await ttlOf()).toBe(expiresAt.getTime() / 1000);
    expect((await directory.listTokens(tenantId, { limit: 10 })).tokens).toEqual([token]);
    await directory.revokeToken(tenantId, 'jti-ttl', { by: 'ops', at: new Date() });
    expect(await ttlOf()).toBe(expiresAt.getTime() / 1000);
  });
});
