import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoTenantDirectory } from '../../functions/shared/tenancy/adapters/dynamo-tenant-directory.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { hashedSortKey, recordSortKey, storageKeys } from '../../functions/shared/storage/keys.ts';
import { maxDisabledPrincipals } from '../../functions/shared/tenancy/tenant-records.ts';
import { tenantDirectoryPortConformance } from '../conformance/tenant-directory-port.case.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';
import { tableDefinition } from '../../infra/resources/definitions.ts';

const table = provisionTestNode('tenants').then(({ resources }) => resources.tableName);
tenantDirectoryPortConformance(
  'DynamoDB',
  async (options) => new DynamoTenantDirectory(createDocumentClient(testAwsConfig()), await table, options),
);

describe('DynamoTenantDirectory items', () => {
  it('returns every write of a tenant whose profile holds as many disabled principals as it may, with the longest ids', async () => {
    const db = createDocumentClient(testAwsConfig());
    const directory = new DynamoTenantDirectory(db, await table);
    const tenantId = `t${crypto.randomUUID().slice(0, 8)}`;
    const at = new Date();
    await directory.createTenant({ tenant_id: tenantId }, { by: 'ops', at });
    const principalId = (n: number) => `p${String(n).padStart(127, '0')}`;
    const key = { pk: storageKeys.tenantProfile(tenantId), sk: recordSortKey };
    // The profile as the limit leaves it at its largest: every disabled principal also carries its
    // "tokens issued before" entry for the token lifetime.
    const profile = (await db.send(new GetCommand({ TableName: await table, Key: key }))).Item ?? {};
    const ids = Array.from({ length: maxDisabledPrincipals }, (_, n) => principalId(n));
    const until = Math.floor(at.getTime() / 1000) + 86_400;
    await db.send(
      new PutCommand({
        TableName: await table,
        Item: {
          ...profile,
          disabled_principals: ids,
          revoked_principals: Object.fromEntries(ids.map((id) => [id, { before: until - 86_400, until }])),
        },
      }),
    );
    const spec = { type: 'service' as const, scopes: ['runs:read'] };
    const extra = principalId(maxDisabledPrincipals);
    await directory.putPrincipal(tenantId, principalId(0), spec, { by: 'ops', at });
    await directory.putPrincipal(tenantId, extra, spec, { by: 'ops', at });

    await expect(directory.disablePrincipal(tenantId, extra, { by: 'ops', at }, until)).rejects.toMatchObject(
      { reason: 'limit' },
    );
    expect(await directory.enablePrincipal(tenantId, principalId(0), { by: 'ops', at })).toBe(true);
    expect(await directory.disablePrincipal(tenantId, extra, { by: 'ops', at }, until)).toBe(true);
    await directory.updateTenant(tenantId, { status: 'disabled' }, { by: 'ops', at });
    const access = await directory.getAccess(tenantId);
    expect(access?.tenant.status).toBe('disabled');
    expect(access?.disabledPrincipals.size).toBe(maxDisabledPrincipals);
    expect(Object.keys(access?.principalsRevokedBefore ?? {})).toHaveLength(maxDisabledPrincipals + 1);
  });

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

  it('returns the created tenant when a concurrent transaction cancelled its first attempts', async () => {
    const db = createDocumentClient(testAwsConfig());
    let cancelled = 0;
    // DynamoDB cancels a transaction that overlaps another in flight (`TransactionConflict`).
    const racing = new Proxy(db, {
      get(target, key, receiver) {
        if (key !== 'send') return Reflect.get(target, key, receiver) as unknown;
        return async (command: unknown) => {
          if (command instanceof TransactWriteCommand && cancelled < 2) {
            cancelled++;
            throw new TransactionCanceledException({
              message: 'Transaction cancelled',
              $metadata: {},
              CancellationReasons: [{ Code: 'TransactionConflict' }, { Code: 'None' }],
            });
          }
          return target.send(command as never);
        };
      },
    }) as DynamoDBDocumentClient;
    const directory = new DynamoTenantDirectory(racing, await table);
    const id = `t${crypto.randomUUID().slice(0, 8)}`;
    await expect(
      directory.createTenant({ tenant_id: id }, { by: 'ops', at: new Date() }),
    ).resolves.toMatchObject({
      tenant_id: id,
    });
    expect(cancelled).toBe(2);
    expect(await directory.getTenant(id)).toMatchObject({ tenant_id: id, version: 1 });
  });

  it('returns a page of principals reading about a page of items, not the whole partition', async () => {
    const db = createDocumentClient(testAwsConfig());
    let itemsRead = 0;
    const counting = new Proxy(db, {
      get(target, key, receiver) {
        if (key !== 'send') return Reflect.get(target, key, receiver) as unknown;
        return async (command: unknown) => {
          const result = (await target.send(command as never)) as { Items?: unknown[] };
          if (command instanceof QueryCommand) itemsRead += result.Items?.length ?? 0;
          return result;
        };
      },
    }) as DynamoDBDocumentClient;
    const directory = new DynamoTenantDirectory(counting, await table);
    const id = `t${crypto.randomUUID().slice(0, 8)}`;
    await directory.createTenant({ tenant_id: id }, { by: 'ops', at: new Date() });
    for (let n = 0; n < 12; n++)
      await directory.putPrincipal(
        id,
        `p${n}`,
        { type: 'user', scopes: ['runs:read'] },
        { by: 'ops', at: new Date() },
      );
    itemsRead = 0;
    const page = await directory.listPrincipals(id, { limit: 3 });
    expect(page.principals).toHaveLength(3);
    expect(page.next).not.toBeNull();
    expect(itemsRead).toBeLessThanOrEqual(4);
  });
});
