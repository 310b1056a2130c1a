import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** The key the probe reads: no record lives there, and no tenant's key can take this form. */
const probeKey = { pk: 'health/probe', sk: 0 };

/**
 * A readiness probe of the node's table: one consistent-free point read of a key that never
 * exists (the cheapest data-plane call that proves the table answers).
 */
export function tableProbe(db: DynamoDBDocumentClient, tableName: string): () => Promise<void> {
  return async () => {
    await db.send(new GetCommand({ TableName: tableName, Key: probeKey }));
  };
}
