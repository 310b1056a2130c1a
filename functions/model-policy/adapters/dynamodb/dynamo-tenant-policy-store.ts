import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { InternalError } from '../../../shared/errors/agentos-error.ts';
import { storageUnavailable } from '../../../shared/storage/dynamo-errors.ts';
import { recordSortKey, storageKeys } from '../../../shared/storage/keys.ts';
import type { StoredTenantPolicy, TenantPolicyStorePort } from '../../ports/tenant-policy-store-port.ts';
import { prepareDenyPatterns } from '../../policy/deny-pattern.ts';
import { TenantModelPolicySchema } from '../../schemas/tenant-policy.ts';
import type { TenantModelPolicy } from '../../schemas/tenant-policy.ts';

type PolicyItem = { policy: unknown; version: number; updated_at: string; updated_by: string };

async function toStored(item: PolicyItem): Promise<StoredTenantPolicy> {
  await prepareDenyPatterns(item.policy);
  const parsed = TenantModelPolicySchema.safeParse(item.policy);
  if (!parsed.success)
    throw new InternalError('A stored tenant model policy is invalid', { cause: parsed.error });
  return {
    policy: parsed.data,
    version: item.version,
    updated_at: item.updated_at,
    updated_by: item.updated_by,
  };
}

/** TenantPolicyStorePort on the node's table: one item per tenant at `tenant/{t}/model-policy`. */
export class DynamoTenantPolicyStore implements TenantPolicyStorePort {
  readonly #db: DynamoDBDocumentClient;
  readonly #tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.#db = db;
    this.#tableName = tableName;
  }

  async get(tenantId: string): Promise<StoredTenantPolicy | undefined> {
    let item: PolicyItem | undefined;
    try {
      const result = await this.#db.send(
        new GetCommand({
          TableName: this.#tableName,
          Key: { pk: storageKeys.modelPolicy(tenantId), sk: recordSortKey },
          ConsistentRead: true,
        }),
      );
      item = result.Item as PolicyItem | undefined;
    } catch (error) {
      throw storageUnavailable(error);
    }
    return item === undefined ? undefined : toStored(item);
  }

  async put(
    tenantId: string,
    policy: TenantModelPolicy,
    updatedBy: string,
    now: Date,
  ): Promise<StoredTenantPolicy> {
    const pk = storageKeys.modelPolicy(tenantId);
    let stored: PolicyItem;
    try {
      const result = await this.#db.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { pk, sk: recordSortKey },
          UpdateExpression:
            'SET #key = :key, #kind = :kind, tenant_id = :tenant, #policy = :policy, updated_at = :at, updated_by = :by ADD #version :one',
          ExpressionAttributeNames: {
            '#key': 'key',
            '#kind': 'kind',
            '#policy': 'policy',
            '#version': 'version',
          },
          ExpressionAttributeValues: {
            ':key': pk,
            ':kind': 'model-policy',
            ':tenant': tenantId,
            ':policy': policy,
            ':at': now.toISOString(),
            ':by': updatedBy,
            ':one': 1,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      stored = result.Attributes as PolicyItem;
    } catch (error) {
      throw storageUnavailable(error);
    }
    return toStored(stored);
  }
}
