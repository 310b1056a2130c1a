import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { storageUnavailable } from '../../../shared/storage/dynamo-errors.ts';
import { recordSortKey, storageKeys } from '../../../shared/storage/keys.ts';
import { principalSortKey, runKey } from '../../metering/attribution-keys.ts';
import type { MeteredTotals, PrincipalTotals, UsageStorePort } from '../../ports/usage-store-port.ts';
import type { UsageWindow } from '../../schemas/usage.ts';
import type { TotalsItem } from './ledger-items.ts';

/**
 * Principal rows read per window at most. Rows come in key order (a hash of the principal), so a
 * window with more lists an arbitrary 5000 of them, each sorted by cost; one principal's totals are
 * read directly (`readPrincipal`) and are never cut.
 */
const maxPrincipalRows = 5000;

function totalsOf(item: TotalsItem | undefined): MeteredTotals {
  return {
    calls: item?.calls ?? 0,
    promptTokens: item?.prompt_tokens ?? 0,
    completionTokens: item?.completion_tokens ?? 0,
    costNano: item?.cost_nano ?? 0,
  };
}

/** UsageStorePort over the aggregates the DynamoDB ledger maintains (see ledger-items.ts). */
export class DynamoUsageStore implements UsageStorePort {
  readonly #db: DynamoDBDocumentClient;
  readonly #tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.#db = db;
    this.#tableName = tableName;
  }

  async readWindow(
    tenantId: string,
    window: UsageWindow,
    date: string,
  ): Promise<{ totals: MeteredTotals; principals: PrincipalTotals[] }> {
    const pk = storageKeys.usage(tenantId, window, date);
    const items: TotalsItem[] = [];
    let startKey: Record<string, unknown> | undefined;
    try {
      do {
        const page = await this.#db.send(
          new QueryCommand({
            TableName: this.#tableName,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': pk },
            ConsistentRead: true,
            ExclusiveStartKey: startKey,
          }),
        );
        items.push(...((page.Items ?? []) as TotalsItem[]));
        startKey = page.LastEvaluatedKey;
      } while (startKey !== undefined && items.length < maxPrincipalRows);
    } catch (error) {
      throw storageUnavailable(error);
    }
    const total = items.find((item) => item.sk === recordSortKey);
    const principals = items
      .filter((item) => item.sk !== recordSortKey && item.principal_id !== undefined)
      .map((item) => ({ principalId: item.principal_id!, ...totalsOf(item) }))
      .sort(
        (a, b) => b.costNano - a.costNano || b.calls - a.calls || a.principalId.localeCompare(b.principalId),
      );
    return { totals: totalsOf(total), principals };
  }

  async readPrincipal(
    tenantId: string,
    window: UsageWindow,
    date: string,
    principalId: string,
  ): Promise<MeteredTotals> {
    const item = await this.#get(storageKeys.usage(tenantId, window, date), principalSortKey(principalId));
    // Sort keys are 48 bits of a hash: another principal's row is someone else's usage, not this one's.
    return totalsOf(item?.principal_id === principalId ? item : undefined);
  }

  async readRun(tenantId: string, runId: string): Promise<MeteredTotals> {
    return totalsOf(await this.#get(storageKeys.usageByRun(tenantId, runKey(runId)), recordSortKey));
  }

  async readRunPrincipal(tenantId: string, runId: string, principalId: string): Promise<MeteredTotals> {
    const item = await this.#get(
      storageKeys.usageByRun(tenantId, runKey(runId)),
      principalSortKey(principalId),
    );
    return totalsOf(item?.principal_id === principalId ? item : undefined);
  }

  async #get(pk: string, sk: number): Promise<TotalsItem | undefined> {
    try {
      const result = await this.#db.send(
        new GetCommand({ TableName: this.#tableName, Key: { pk, sk }, ConsistentRead: true }),
      );
      return result.Item as TotalsItem | undefined;
    } catch (error) {
      throw storageUnavailable(error);
    }
  }
}
